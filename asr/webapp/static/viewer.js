/* A small structure viewer: shaded atoms and the unit cell on a canvas.
 * Drag to rotate, scroll (or +/-) to zoom, arrow keys rotate too.
 * Reads its atoms from <script type="application/json" id="structure-data">. */
(function () {
  "use strict";

  function mul(a, b) {
    var r = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (var i = 0; i < 3; i++)
      for (var j = 0; j < 3; j++)
        for (var k = 0; k < 3; k++) r[i][j] += a[i][k] * b[k][j];
    return r;
  }
  function rotX(t) {
    var c = Math.cos(t), s = Math.sin(t);
    return [[1, 0, 0], [0, c, -s], [0, s, c]];
  }
  function rotY(t) {
    var c = Math.cos(t), s = Math.sin(t);
    return [[c, 0, s], [0, 1, 0], [-s, 0, c]];
  }
  function rotZ(t) {
    var c = Math.cos(t), s = Math.sin(t);
    return [[c, -s, 0], [s, c, 0], [0, 0, 1]];
  }
  function apply(m, v) {
    return [
      m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
      m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
      m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2]
    ];
  }
  function add(a, b) { return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]; }
  function scale(a, s) { return [a[0] * s, a[1] * s, a[2] * s]; }
  function norm(a) { return Math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }
  function cross(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }
  function unit(a) { var n = norm(a); return n > 0 ? scale(a, 1 / n) : [0, 0, 1]; }

  function shade(hex, f) {
    var n = parseInt(hex.slice(1), 16);
    var r = (n >> 16) & 255, g = (n >> 8) & 255, b = n & 255;
    function c(x) { return Math.max(0, Math.min(255, Math.round(f > 1 ? x + (255 - x) * (f - 1) : x * f))); }
    return "rgb(" + c(r) + "," + c(g) + "," + c(b) + ")";
  }

  function mean(points) {
    var m = [0, 0, 0];
    points.forEach(function (p) { m = add(m, p); });
    return points.length ? scale(m, 1 / points.length) : m;
  }

  /* Corners and edges spanned by the periodic cell vectors, moved across
   * the non-periodic directions to where the atoms are. */
  function periodicCorners(box, pbc, atoms) {
    var vectors = box.filter(function (v, i) { return pbc[i] && norm(v) > 0; });
    if (!vectors.length || !atoms.length) return { corners: [], edges: [] };
    var corners = [[0, 0, 0]];
    vectors.forEach(function (v) {
      corners = corners.concat(corners.map(function (c) { return add(c, v); }));
    });
    var edges = [];  // corners whose numbers differ in one bit
    for (var a = 0; a < corners.length; a++)
      for (var bit = 1; bit < corners.length; bit <<= 1)
        if (!(a & bit)) edges.push([a, a | bit]);
    if (vectors.length < 3) {
      var gap = add(mean(atoms), scale(mean(corners), -1));
      if (vectors.length === 2) {
        var n = unit(cross(vectors[0], vectors[1]));
        gap = scale(n, gap[0] * n[0] + gap[1] * n[1] + gap[2] * n[2]);
      } else {
        var t = unit(vectors[0]);
        gap = add(gap, scale(t, -(gap[0] * t[0] + gap[1] * t[1] + gap[2] * t[2])));
      }
      corners = corners.map(function (c) { return add(c, gap); });
    }
    return { corners: corners, edges: edges };
  }

  function Viewer(canvas, data) {
    this.canvas = canvas;
    this.data = data;
    this.repeat = 1;
    this.showCell = true;
    this.reset();
    this.build();
    this.listen();
    this.draw();
  }

  Viewer.prototype.defaultRotation = function () {
    var periodic = this.data.pbc.filter(Boolean).length;
    // Layers (2D): from above, tilted; anything else: a general view.
    return periodic === 2 ? mul(rotX(-0.6), rotZ(0.3)) : mul(rotX(-0.45), rotY(0.6));
  };

  Viewer.prototype.reset = function () {
    this.rotation = this.defaultRotation();
    this.zoom = 1;
  };

  Viewer.prototype.build = function () {
    var d = this.data, cell = d.cell, n = this.repeat;
    var reps = d.pbc.map(function (p) { return p ? n : 1; });
    var atoms = [];
    for (var i = 0; i < reps[0]; i++)
      for (var j = 0; j < reps[1]; j++)
        for (var k = 0; k < reps[2]; k++) {
          var shift = add(add(scale(cell[0], i), scale(cell[1], j)), scale(cell[2], k));
          for (var a = 0; a < d.positions.length; a++)
            atoms.push({ p: add(d.positions[a], shift), color: d.colors[a], r: d.radii[a] });
        }
    var box = [scale(cell[0], reps[0]), scale(cell[1], reps[1]), scale(cell[2], reps[2])];
    // The cell drawn: the whole box for a bulk crystal; for a layer or a
    // wire only its periodic vectors, at the height of the atoms (no vacuum).
    var cellShape = periodicCorners(box, d.pbc, atoms.map(function (x) { return x.p; }));
    var points = atoms.map(function (x) { return x.p; }).concat(cellShape.corners);
    var lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    points.forEach(function (p) {
      for (var q = 0; q < 3; q++) { lo[q] = Math.min(lo[q], p[q]); hi[q] = Math.max(hi[q], p[q]); }
    });
    this.center = points.length ? scale(add(lo, hi), 0.5) : [0, 0, 0];
    var center = this.center, extent = 1;
    points.forEach(function (p) { extent = Math.max(extent, norm(add(p, scale(center, -1))) + 1.2); });
    this.extent = extent;
    this.atoms = atoms;
    this.corners = cellShape.corners;
    this.edges = cellShape.edges;
  };

  Viewer.prototype.draw = function () {
    var canvas = this.canvas, ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var s = this.zoom * Math.min(w, h) / (2 * this.extent), R = this.rotation, c = this.center;
    function project(p) {
      var q = apply(R, add(p, scale(c, -1)));
      return [w / 2 + s * q[0], h / 2 - s * q[1], q[2]];
    }
    var items = this.atoms.map(function (a) {
      var q = project(a.p);
      return { x: q[0], y: q[1], z: q[2], r: Math.max(1.5, a.r * s * 0.65), color: a.color };
    });
    items.sort(function (a, b) { return a.z - b.z; });
    var corners = this.corners.map(project);
    var zmid = 0;
    function edges(front) {
      if (!this.showCell) return;
      ctx.lineWidth = 1.2;
      this.edges.forEach(function (e) {
        var a = corners[e[0]], b = corners[e[1]];
        if (((a[2] + b[2]) / 2 > zmid) !== front) return;
        ctx.strokeStyle = front ? "rgba(40,40,40,0.85)" : "rgba(90,90,90,0.45)";
        ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
      });
    }
    if (corners.length) edges.call(this, false);
    items.forEach(function (a) {
      var g = ctx.createRadialGradient(a.x - a.r / 3, a.y - a.r / 3, a.r / 8, a.x, a.y, a.r);
      g.addColorStop(0, shade(a.color, 1.6));
      g.addColorStop(0.5, a.color);
      g.addColorStop(1, shade(a.color, 0.55));
      ctx.beginPath();
      ctx.arc(a.x, a.y, a.r, 0, 2 * Math.PI);
      ctx.fillStyle = g;
      ctx.fill();
      ctx.lineWidth = 0.6;
      ctx.strokeStyle = "rgba(0,0,0,0.5)";
      ctx.stroke();
    });
    if (corners.length) edges.call(this, true);
  };

  Viewer.prototype.rotate = function (dx, dy) {
    this.rotation = mul(mul(rotY(dx), rotX(dy)), this.rotation);
    this.draw();
  };

  Viewer.prototype.lookAlong = function (vector) {
    var w = unit(vector);
    var up = Math.abs(w[2]) < 0.9 ? [0, 0, 1] : [0, 1, 0];
    var x = unit(cross(up, w)), y = cross(w, x);
    this.rotation = [x, y, w];
    this.draw();
  };

  Viewer.prototype.listen = function () {
    var self = this, canvas = this.canvas, last = null;
    canvas.addEventListener("pointerdown", function (e) {
      last = [e.clientX, e.clientY];
      canvas.setPointerCapture(e.pointerId);
      canvas.classList.add("dragging");
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!last) return;
      self.rotate((e.clientX - last[0]) * 0.01, (e.clientY - last[1]) * 0.01);
      last = [e.clientX, e.clientY];
    });
    function stop() { last = null; canvas.classList.remove("dragging"); }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      self.zoom = Math.max(0.2, Math.min(8, self.zoom * Math.exp(-e.deltaY * 0.0015)));
      self.draw();
    }, { passive: false });
    canvas.addEventListener("keydown", function (e) {
      var step = 0.1, moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[e.key]) { self.rotate(moves[e.key][0], moves[e.key][1]); e.preventDefault(); }
      if (e.key === "+" || e.key === "=") { self.zoom *= 1.15; self.draw(); }
      if (e.key === "-") { self.zoom /= 1.15; self.draw(); }
    });
    var reset = document.getElementById("viewer-reset");
    if (reset) reset.addEventListener("click", function () { self.reset(); self.draw(); });
    document.querySelectorAll("button[data-view]").forEach(function (b) {
      b.addEventListener("click", function () {
        self.lookAlong(self.data.cell["abc".indexOf(b.getAttribute("data-view"))]);
      });
    });
    var repeat = document.getElementById("viewer-repeat");
    if (repeat) repeat.addEventListener("change", function () {
      self.repeat = parseInt(repeat.value, 10) || 1;
      self.build();
      self.draw();
    });
    var cellBox = document.getElementById("viewer-cell");
    if (cellBox) cellBox.addEventListener("change", function () {
      self.showCell = cellBox.checked;
      self.draw();
    });
    window.addEventListener("resize", function () { self.draw(); });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("viewer");
    var source = document.getElementById("structure-data");
    if (!canvas || !source || !canvas.getContext) return;
    try {
      window.asrViewer = new Viewer(canvas, JSON.parse(source.textContent));
    } catch (err) {
      canvas.insertAdjacentText("afterend", "The structure cannot be drawn: " + err);
    }
  });
})();
