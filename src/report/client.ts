/**
 * The script of the HTML report, as text inlined into the page after Chart.js. It reads the
 * chart specs (charts.ts) from the page's JSON block and hands each to Chart.js; everything it
 * draws was decided in TypeScript. Kept small and in plain ES2020 so any browser runs it.
 *
 *   <script type="application/json" id="memvisor-data">{ runs: [{ t }], charts: [ChartSpec], stateColors }</script>
 *   ── one Chart per spec on <canvas id=spec.id> ── stacked areas fill to the one below, lines on top
 *   ── plugin mvBands: the state bands behind the datasets
 *   ── <select data-picker>: swaps the datasets of charts with views (all VMs, one VM)
 *   ── charts of one data-sync group share the y axis' end (compare: A and B side by side)
 *
 * When every chart is drawn, <body data-charts="N"> holds the number drawn (tests wait for it);
 * a chart that fails is reported on the console and marked on the page, the others still draw.
 */
export const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var model = JSON.parse(document.getElementById('memvisor-data').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", sans-serif';
  Chart.defaults.font.size = 11;
  Chart.defaults.color = '#333';

  Chart.register({
    id: 'mvBands',
    beforeDatasetsDraw: function (chart, _args, opts) {
      var list = opts && opts.bands;
      if (!list || !list.length) return;
      var a = chart.chartArea, x = chart.scales.x, ctx = chart.ctx;
      ctx.save();
      ctx.globalAlpha = 0.15;
      for (var i = 0; i < list.length; i++) {
        var b = list[i];
        var x0 = Math.max(a.left, x.getPixelForValue(b.from)), x1 = Math.min(a.right, x.getPixelForValue(b.to));
        if (!(x1 > x0)) continue;
        ctx.fillStyle = model.stateColors[b.state] || '#757575';
        ctx.fillRect(x0, a.top, x1 - x0, a.bottom - a.top);
      }
      ctx.restore();
    }
  });

  function num(y) {
    if (y === null || y === undefined) return '-';
    var m = Math.abs(y);
    return y.toFixed(m >= 100 ? 0 : m >= 1 ? 1 : 3);
  }

  function datasets(spec, list) {
    var t = model.runs[spec.run].t, firstArea = true;
    return list.map(function (s) {
      var area = !!s.fill;
      var d = {
        label: s.label,
        data: s.data.map(function (y, i) { return { x: t[i], y: y }; }),
        borderColor: s.color,
        backgroundColor: s.fill || s.color,
        borderWidth: s.width || (area ? 1 : 1.5),
        borderDash: s.dash ? [6, 4] : [],
        stepped: !!s.step,
        pointRadius: 0,
        pointHitRadius: 4,
        pointStyle: area ? 'rect' : 'line',
        yAxisID: s.axis || 'y',
        stack: area ? 'areas' : 'line:' + s.label,
        fill: area ? (firstArea ? 'origin' : '-1') : false,
        order: area ? 1 : 0,
        spanGaps: false
      };
      if (area) firstArea = false;
      return d;
    });
  }

  function hasArea(spec) {
    var lists = spec.views ? Object.keys(spec.views).map(function (k) { return spec.views[k]; }) : [spec.series];
    return lists.some(function (l) { return l.some(function (s) { return !!s.fill; }); });
  }

  function make(spec) {
    var canvas = document.getElementById(spec.id);
    var t = model.runs[spec.run].t;
    var unit = spec.yLabel;
    var scales = {
      x: { type: 'linear', min: 0, max: t[t.length - 1], title: { display: true, text: 'simulated time (s)' }, ticks: { maxTicksLimit: spec.small ? 5 : 12 } },
      y: { stacked: hasArea(spec), beginAtZero: true, title: { display: true, text: spec.yLabel } }
    };
    if (spec.yMax !== undefined && spec.yMax !== null) scales.y.max = spec.yMax;
    if (spec.y2Label) scales.y2 = { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: spec.y2Label } };
    return new Chart(canvas, {
      type: 'line',
      data: { datasets: datasets(spec, spec.series) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        normalized: true,
        interaction: { mode: 'index', intersect: false },
        scales: scales,
        plugins: {
          title: { display: true, text: spec.title, font: { size: spec.small ? 12 : 14, weight: 'bold' } },
          legend: { display: !spec.small, position: 'bottom', labels: { usePointStyle: true, pointStyleWidth: 22, boxHeight: 8 } },
          tooltip: { callbacks: {
            title: function (items) { return items.length ? 't = ' + num(items[0].parsed.x) + ' s' : ''; },
            label: function (c) { return c.dataset.label + ': ' + num(c.parsed.y) + ' ' + unit; }
          } },
          mvBands: { bands: spec.bands || [] }
        }
      }
    });
  }

  var charts = {}, drawn = 0;
  model.charts.forEach(function (spec) {
    try {
      charts[spec.id] = make(spec);
      drawn++;
    } catch (e) {
      console.error('memvisor report: chart ' + spec.id + ' failed: ' + (e && e.message));
      var fig = document.getElementById(spec.id);
      if (fig && fig.parentNode) fig.parentNode.setAttribute('data-failed', String(e && e.message));
    }
  });

  // charts of one sync group share the y axis' upper end, so A and B compare by eye
  function sync() {
    var groups = {};
    model.charts.forEach(function (spec) {
      if (!spec.sync || !charts[spec.id]) return;
      (groups[spec.sync] = groups[spec.sync] || []).push(charts[spec.id]);
    });
    Object.keys(groups).forEach(function (g) {
      var cs = groups[g];
      cs.forEach(function (c) { delete c.options.scales.y.max; c.update(); });
      var m = Math.max.apply(null, cs.map(function (c) { return c.scales.y.max; }));
      cs.forEach(function (c) { c.options.scales.y.max = m; c.update(); });
    });
  }
  sync();

  Array.prototype.forEach.call(document.querySelectorAll('select[data-picker]'), function (sel) {
    sel.addEventListener('change', function () {
      model.charts.forEach(function (spec) {
        var c = charts[spec.id];
        if (!c || !spec.views) return;
        c.data.datasets = datasets(spec, spec.views[sel.value] || []);
        c.update();
      });
      sync();
    });
  });

  window.memvisorCharts = charts;
  document.body.setAttribute('data-charts', String(drawn));
})();
`;
