// Live status of a job page (SPEC §9): the badge and progress bar follow the job's event stream;
// when the job ends, the page reloads to show its results. Without JS the page is complete as served.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root || !window.EventSource || root.dataset.final === "1") return;
  var initial = root.dataset.status;
  var badge = root.querySelector("[data-live-status]");
  var progress = root.querySelector("[data-live-progress]");

  function show(data) {
    if (data.job_status && badge) {
      badge.textContent = data.job_status;
      badge.className = "badge status-" + data.job_status.toLowerCase();
    }
    if (typeof data.progress === "number" && progress) {
      progress.setAttribute("aria-valuenow", data.progress);
      progress.querySelector(".bar").style.width = data.progress + "%";
      progress.querySelector(".pct").textContent = data.progress + "%";
    }
  }

  var source = new EventSource(root.dataset.eventsUrl);
  var last = initial;
  function onEvent(event) {
    var data = JSON.parse(event.data);
    if (data.job_status) last = data.job_status;
    show(data);
  }
  source.addEventListener("status", onEvent);
  source.addEventListener("progress", onEvent);
  source.addEventListener("end", function (event) {
    source.close();
    try { onEvent(event); } catch (e) { /* an end without data */ }
    if (last !== initial) window.location.reload();
  });
  source.onerror = function () {
    // A closed stream after the end is normal; otherwise EventSource retries on its own.
  };
})();

// Sortable counts tables: click a header to sort by it (again to reverse).
(function () {
  "use strict";
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th button.sort").forEach(function (button) {
      button.addEventListener("click", function () {
        var key = parseInt(button.dataset.key, 10);
        var numeric = button.hasAttribute("data-numeric");
        var asc = button.dataset.dir !== "asc";
        button.dataset.dir = asc ? "asc" : "desc";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[key].textContent, y = b.cells[key].textContent;
          var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return asc ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
