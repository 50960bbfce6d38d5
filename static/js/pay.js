// The pay page's card form: Stripe.js takes the card and confirms the PaymentIntent in the
// browser, then the form goes back to the shop, which asks Stripe itself what happened.
// What it says comes from the form's data-say-* attributes, in the page's language.
(function () {
  "use strict";
  var form = document.getElementById("stripe-pay");
  if (!form || !form.dataset.clientSecret) {
    return;
  }
  var status = document.getElementById("card-status");
  var button = form.querySelector("button[type=submit]");
  var secret = form.dataset.clientSecret;
  var words = form.dataset;

  function say(message) {
    status.textContent = message || "";
  }

  if (typeof window.Stripe !== "function") {
    say(words.sayNoStripe);
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey);

  // Back from a bank's own authentication page: let the shop check the payment now.
  var query = new URLSearchParams(window.location.search);
  if (query.get("payment_intent_client_secret") === secret) {
    say(words.sayReturning);
    form.submit();
    return;
  }

  var card = stripe.elements({ locale: form.dataset.locale || "auto" }).create("card");
  card.mount("#card-element");
  card.on("change", function (event) {
    say(event && event.error ? event.error.message : "");
  });
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    say(words.sayChecking);
    stripe
      .confirmCardPayment(secret, { payment_method: { card: card }, return_url: form.dataset.returnUrl })
      .then(function (result) {
        if (result.error) {
          say(result.error.message || words.sayDeclined);
          button.disabled = false;
          return;
        }
        say(words.sayAccepted);
        form.submit(); // does not fire "submit" again: the shop now asks Stripe and books it
      })
      .catch(function () {
        say(words.sayNoAnswer);
        button.disabled = false;
      });
  });
})();
