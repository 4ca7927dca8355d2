// Draws the charts of the dashboard and statistics pages with ECharts (served locally from
// /static/vendor). Every chart's numbers are also in a table on the page, so the page reads the
// same without JavaScript; this only adds the picture.
(function () {
  'use strict';
  function draw(fig) {
    if (typeof echarts === 'undefined' || fig.dataset.drawn) return;
    var src = fig.querySelector('script[type="application/json"]');
    if (!src) return;
    var d;
    try { d = JSON.parse(src.textContent); } catch (e) { return; }
    if (!d || !d.labels || !d.labels.length) return;
    var box = document.createElement('div');
    box.className = 'chart-canvas';
    box.setAttribute('role', 'img');
    box.setAttribute('aria-label', d.title + '（数据见下表）');
    fig.insertBefore(box, fig.firstChild);
    var chart = echarts.init(box, null, { renderer: 'canvas' });
    var opt;
    if (d.kind === 'heatmap') {
      var data = [], maxV = 0;
      d.labels.forEach(function (_, i) {
        d.series.forEach(function (_, j) {
          var v = d.values[i][j];
          maxV = Math.max(maxV, v);
          data.push([j, i, v]);
        });
      });
      opt = {
        tooltip: { position: 'top' },
        grid: { left: 90, right: 20, top: 10, bottom: 90 },
        xAxis: { type: 'category', data: d.series.map(function (s) { return s || '（未分类）'; }), axisLabel: { rotate: 40 } },
        yAxis: { type: 'category', data: d.labels },
        visualMap: { min: 0, max: Math.max(maxV, 1), calculable: true, orient: 'horizontal', left: 'center', bottom: 0, inRange: { color: ['#f4f7fb', '#1d4e89'] } },
        series: [{ type: 'heatmap', data: data, label: { show: d.labels.length * d.series.length <= 120 } }]
      };
    } else {
      opt = {
        tooltip: { trigger: 'axis' },
        legend: { data: d.series, top: 0 },
        grid: { left: 50, right: 20, top: 30, bottom: 60 },
        xAxis: { type: 'category', data: d.labels, axisLabel: { rotate: d.labels.length > 8 ? 35 : 0 } },
        yAxis: { type: 'value', minInterval: 1 },
        series: d.series.map(function (name, j) {
          return { name: name, type: d.kind === 'line' ? 'line' : 'bar', data: d.values.map(function (row) { return row[j]; }) };
        })
      };
    }
    chart.setOption(opt);
    fig.dataset.drawn = '1';
    window.addEventListener('resize', function () { chart.resize(); });
  }
  function all() { document.querySelectorAll('figure[data-chart]').forEach(draw); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', all); else all();
  window.addEventListener('load', all);
})();
