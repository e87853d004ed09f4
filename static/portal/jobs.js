// Job list: "select all" checkbox for the bulk actions.
(function () {
  "use strict";
  var all = document.querySelector("[data-select-all]");
  if (!all) return;
  all.addEventListener("change", function () {
    document.querySelectorAll("input[name=job_ids]").forEach(function (box) { box.checked = all.checked; });
  });
})();
