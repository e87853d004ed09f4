// Submit page: example buttons fill the editor in place (without JS they are ?example=... links).
(function () {
  "use strict";
  var editor = document.getElementById("id_source_code");
  document.querySelectorAll("[data-example]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var template = document.getElementById("example-" + link.dataset.example);
      if (!editor || !template) return;
      event.preventDefault();
      editor.value = template.content.textContent;
      var codeType = document.getElementById("id_code_type");
      var backend = document.getElementById("id_backend");
      if (codeType) codeType.value = link.dataset.codeType;
      if (backend && backend.querySelector('option[value="' + link.dataset.backend + '"]')) backend.value = link.dataset.backend;
      editor.focus();
    });
  });
})();
