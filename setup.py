"""Packaging hook: compile the translation catalogs (``.po`` → ``.mo``) whenever the package is
built or installed (``pip install .`` and ``pip install -e .`` alike). Everything else about the
package is declared in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithCatalogs(build_py):
    """``build_py`` that compiles the catalogs in the source tree before copying the package."""

    def run(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted((HERE / "marketplace" / "translations").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogs})
