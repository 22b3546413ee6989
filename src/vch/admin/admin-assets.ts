// The admin page's stylesheet and script, served as files of their own so that the page's
// Content-Security-Policy can forbid every inline script and style: text a container chose
// that somehow reached the page as markup still could not run.

export const ADMIN_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 24px 24px; color: #1f2328; background: #fff; }
header { border-bottom: 1px solid #d0d7de; margin-bottom: 12px; }
h1 { font-size: 22px; margin: 16px 0 4px; }
h2 { font-size: 16px; margin: 18px 0 6px; }
header p, .empty { color: #59636e; margin: 4px 0 10px; }
dl { display: flex; gap: 24px; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
th { background: #f6f8fa; }
td.id { font-family: ui-monospace, monospace; }
tr.tailed { background: #fff8c5; }
.badge { display: inline-block; min-width: 64px; padding: 1px 8px; border-radius: 10px; color: #fff; text-align: center; }
.badge.running { background: #1a7f37; }
.badge.exited { background: #6e7781; }
.badge.created { background: #0969da; }
pre { background: #0d1117; color: #e6edf3; padding: 8px; max-height: 360px; overflow: auto; white-space: pre-wrap; }
`;

// Refreshes the tail every 2 s (its text set as text, never as markup) and the tables every 15 s.
export const ADMIN_JS = `
'use strict';
(function () {
  var pre = document.getElementById('log');
  if (pre) {
    var refresh = function () {
      fetch(pre.dataset.src, { cache: 'no-store' })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (t) {
          if (t === null) return;
          var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.textContent = t;
          if (atEnd) pre.scrollTop = pre.scrollHeight;
        })
        .catch(function () {});
    };
    pre.scrollTop = pre.scrollHeight;
    setInterval(refresh, 2000);
  }
  setTimeout(function () { location.reload(); }, 15000);
})();
`;
