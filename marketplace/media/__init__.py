"""Media: uploaded and generated files (photos, evidence documents), content-addressed."""
