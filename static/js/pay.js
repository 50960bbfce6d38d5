// The pay page's card form: Stripe.js takes the card and confirms the PaymentIntent in the
// browser, then the form goes back to the shop, which asks Stripe itself what happened.
(function () {
  "use strict";
  var form = document.getElementById("stripe-pay");
  if (!form || !form.dataset.clientSecret) {
    return;
  }
  var status = document.getElementById("card-status");
  var button = form.querySelector("button[type=submit]");
  var secret = form.dataset.clientSecret;

  function say(message) {
    status.textContent = message || "";
  }

  if (typeof window.Stripe !== "function") {
    say("The card form could not load. Check your connection (or an ad blocker) and reload.");
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey);

  // Back from a bank's own authentication page: let the shop check the payment now.
  var query = new URLSearchParams(window.location.search);
  if (query.get("payment_intent_client_secret") === secret) {
    say("Checking your payment…");
    form.submit();
    return;
  }

  var card = stripe.elements().create("card");
  card.mount("#card-element");
  card.on("change", function (event) {
    say(event && event.error ? event.error.message : "");
  });
  button.disabled = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    say("Checking your card…");
    stripe
      .confirmCardPayment(secret, { payment_method: { card: card }, return_url: form.dataset.returnUrl })
      .then(function (result) {
        if (result.error) {
          say(result.error.message || "The card was not accepted. Try again or use another card.");
          button.disabled = false;
          return;
        }
        say("Card accepted. Finishing your order…");
        form.submit(); // does not fire "submit" again: the shop now asks Stripe and books it
      })
      .catch(function () {
        say("The card form stopped answering. Check your connection and try again.");
        button.disabled = false;
      });
  });
})();
