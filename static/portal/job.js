// Live status of a job page (SPEC §9): the badge and progress bar follow the job's event stream; when
// the job ends, the parts of the page marked data-live-swap (results, timeline, actions, details) are
// fetched again and swapped in place, so the page never reloads under the reader. Without JS the page
// is complete as served.
(function () {
  "use strict";

  // Sortable counts tables: click a header to sort by it (again to reverse).
  function bindSortable(scope) {
    scope.querySelectorAll("table.sortable").forEach(function (table) {
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
  }

  bindSortable(document);

  var root = document.getElementById("job");
  if (!root || !window.EventSource || root.dataset.final === "1") return;
  var badge = root.querySelector("[data-live-status]");
  var progress = root.querySelector("[data-live-progress]");
  var queue = root.querySelector("[data-live-queue]");
  var shown = root.dataset.status; // the status the served page describes

  function show(data) {
    if (data.job_status && badge) {
      badge.textContent = data.job_status;
      badge.className = "badge status-" + data.job_status.toLowerCase();
      if (queue) queue.hidden = data.job_status !== "QUEUED";
    }
    if (typeof data.progress === "number" && progress) {
      progress.querySelector(".bar").value = data.progress;
      progress.querySelector(".pct").textContent = data.progress + "%";
    }
  }

  // The final page, fetched and swapped in part by part; a full reload only if that fails.
  function refresh() {
    root.dataset.stream = "refreshing";
    // X-Portal-Refresh: the layout leaves the flash messages for the page the user navigates to next.
    fetch(window.location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html", "X-Portal-Refresh": "1" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-swap]").forEach(function (old) {
          var replacement = fresh.getElementById(old.id);
          if (!replacement) return;
          var node = document.importNode(replacement, true);
          old.replaceWith(node);
          bindSortable(node);
        });
        var status = fresh.getElementById("job");
        if (status) root.dataset.status = status.dataset.status;
        root.dataset.final = "1";
        root.dataset.stream = "done";
      })
      .catch(function () {
        window.location.reload();
      });
  }

  var source = new EventSource(root.dataset.eventsUrl);
  var last = shown;
  function onEvent(event) {
    var data = event.data ? JSON.parse(event.data) : {};
    if (data.job_status) last = data.job_status;
    show(data);
    // The server subscribes before it sends the first event: from here on no change can be missed.
    root.dataset.stream = "live";
  }
  source.addEventListener("status", onEvent);
  source.addEventListener("progress", onEvent);
  function onEnd(event) {
    // Closed here, or EventSource would reconnect to a stream that has nothing more to say.
    source.close();
    onEvent(event);
    if (last !== shown) refresh();
    else root.dataset.stream = "done";
  }
  source.addEventListener("end", onEnd);
  source.addEventListener("job_deleted", onEnd); // deleted while watched: its last event
  // server_cancel: the server is stopping. EventSource reconnects on its own once the stream closes,
  // and the stream it reaches begins with the job's state as it is then.
  source.onerror = function () {
    // EventSource retries on its own after a dropped connection; a refused one (404, 401) stays closed.
    if (source.readyState === EventSource.CLOSED) root.dataset.stream = "closed";
  };
})();
