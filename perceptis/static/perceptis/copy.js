/* The copy button of the show-once page. Everything else works without JavaScript. */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.querySelector(".copy-status");
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      function done(ok) {
        button.textContent = ok ? "Copied" : "Copy";
        if (status) {
          status.textContent = ok ? "Copied to the clipboard." : "Select the key and copy it with Ctrl+C or Cmd+C.";
        }
      }
      var text = field.textContent.trim();
      var range = document.createRange();
      range.selectNodeContents(field);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      /* The selected text, copied the older way: for browsers without the clipboard API, and
         when it refuses (a document that lost focus, a permission not granted). */
      function copySelection() {
        try { done(document.execCommand("copy")); } catch (e) { done(false); }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, copySelection);
      } else {
        copySelection();
      }
    });
  });
  /* Leaving the page drops the secret from it, so the back button cannot bring it back from
     the browser's page cache (the response is also no-store). */
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("[data-secret]").forEach(function (el) { el.textContent = ""; });
  });
})();
