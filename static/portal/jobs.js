// Job list: "select all" for the bulk actions, and the page's jobs followed live (SPEC §9): one event
// stream for the jobs on the page that may still change; each status event updates that job's badge
// in place. Without JS the list is complete as served.
(function () {
  "use strict";
  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=job_ids]").forEach(function (box) { box.checked = all.checked; });
    });
  }

  var list = document.getElementById("job-list");
  if (!list || !list.dataset.eventsUrl || !window.EventSource) return;
  var source = new EventSource(list.dataset.eventsUrl);
  source.addEventListener("status", function (event) {
    var data = JSON.parse(event.data);
    var row = list.querySelector('tr[data-job-id="' + data.job_id + '"]');
    var badge = row && row.querySelector("[data-row-status] .badge");
    if (badge && data.job_status) {
      badge.textContent = data.job_status;
      badge.className = "badge status-" + data.job_status.toLowerCase();
    }
    // The server subscribes before it sends the first event: from here on no change can be missed.
    list.dataset.stream = "live";
  });
  source.addEventListener("job_deleted", function (event) {
    var data = JSON.parse(event.data);
    var row = list.querySelector('tr[data-job-id="' + data.job_id + '"]');
    var badge = row && row.querySelector("[data-row-status] .badge");
    if (badge) {
      badge.textContent = "DELETED";
      badge.className = "badge status-deleted";
    }
  });
  source.addEventListener("end", function () {
    // Closed here, or EventSource would reconnect to a stream that has nothing more to say.
    source.close();
    list.dataset.stream = "done";
  });
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) list.dataset.stream = "closed";
  };
})();
