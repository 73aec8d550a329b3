// ocrserve's page: pick a file, run /ocr, draw every page's lines, words and KIE labels over it.
// Framework-free on purpose: one file, no build step, nothing fetched from outside the gateway.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// Options with their own control above; every other /ocr query parameter becomes an input under "Options".
const MODEL_PARAMS = new Set(["det", "rec", "kie", "format"]);
// Download formats: json is the answer the page already holds, png comes from POST /visualize; any
// `format` values /ocr declares in its OpenAPI schema (text, hocr, ...) are added at start-up.
const FORMAT_EXT = { json: "json", png: "png", text: "txt", txt: "txt", hocr: "hocr.html", alto: "alto.xml", pdf: "pdf" };
const state = { file: null, url: null, isImage: false, result: null, page: 0, selected: null, query: null,
  pageImages: new Map(), drawing: 0 }; // pageImages: page number -> Promise of a blob: URL of its picture
const $ = (sel) => document.querySelector(sel);

// --- talking to the API -------------------------------------------------------------------------
async function call(path, init) {
  const response = await fetch(path, init);
  if (!response.ok) throw await apiError(response);
  return response;
}

async function apiError(response) {
  const body = await response.text();
  let message = body;
  try {
    const parsed = JSON.parse(body);
    message = parsed.message || JSON.stringify(parsed);
  } catch (_) { /* not JSON: show the body as it came */ }
  return new Error(`${response.status}: ${message || response.statusText}`);
}

function showError(error) {
  const box = $("#error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

// --- start-up: models and options from public data ------------------------------------------------
function fillSelect(select, names, chosen, withNone) {
  select.replaceChildren();
  for (const name of names) select.append(new Option(name, name, false, name === chosen));
  if (withNone) select.append(new Option("none", "none", false, chosen === "none"));
}

async function loadCatalog() {
  try {
    const catalog = await (await call("/catalog")).json();
    const { tasks, defaults } = catalog;
    fillSelect($("#det"), tasks.det || [], defaults.det, true);
    fillSelect($("#rec"), tasks.rec || [], defaults.rec, true);
    fillSelect($("#kie"), tasks.kie || [], "none", true);
  } catch (error) {
    showError(new Error(`cannot list the loaded models (${error.message}); the defaults are used`));
    for (const id of ["#det", "#rec"]) fillSelect($(id), [], null, false);
    for (const id of ["#det", "#rec"]) $(id).prepend(new Option("default", "", true, true));
    fillSelect($("#kie"), [], "none", true);
  }
}

function schemaOf(param) {
  const schema = param.schema || {};
  return (schema.anyOf || [schema]).find((s) => s.type && s.type !== "null") || schema;
}

function optionInput(param) {
  const schema = schemaOf(param);
  let input;
  if (schema.type === "boolean") {
    input = document.createElement("select");
    input.append(new Option("default", ""), new Option("yes", "true"), new Option("no", "false"));
  } else if (schema.enum) {
    input = document.createElement("select");
    input.append(new Option("default", ""));
    for (const value of schema.enum) input.append(new Option(value, value));
  } else {
    input = document.createElement("input");
    input.type = schema.type === "integer" || schema.type === "number" ? "number" : "text";
    input.step = schema.type === "integer" ? "1" : "any";
    if (schema.minimum !== undefined) input.min = schema.minimum;
    if (schema.maximum !== undefined) input.max = schema.maximum;
    input.placeholder = schema.default !== undefined && schema.default !== null ? String(schema.default) : "default";
  }
  input.name = param.name;
  input.dataset.option = "1";
  const label = document.createElement("label");
  label.title = param.description || schema.description || "";
  label.append(param.name, input);
  return label;
}

async function loadOptions() {
  const formats = ["json", "png"];
  try {
    const spec = await (await call("/openapi.json")).json();
    const params = (spec.paths["/ocr"]?.post?.parameters || []).filter((p) => p.in === "query");
    for (const param of params) {
      if (MODEL_PARAMS.has(param.name)) continue;
      $("#options").append(optionInput(param));
    }
    const format = params.find((p) => p.name === "format");
    for (const value of (format && schemaOf(format).enum) || []) if (!formats.includes(value)) formats.push(value);
  } catch (_) {
    $("#more").hidden = true; // no schema (docs closed): the page still runs with the defaults
  }
  for (const value of formats) $("#format").append(new Option(value.toUpperCase(), value));
}

// --- running ----------------------------------------------------------------------------------------
function queryFromForm() {
  const query = new URLSearchParams();
  for (const id of ["det", "rec", "kie"]) {
    const value = $(`#${id}`).value;
    if (value && !(id === "kie" && value === "none")) query.set(id, value);
  }
  for (const input of document.querySelectorAll("[data-option]")) if (input.value !== "") query.set(input.name, input.value);
  return query;
}

async function run(event) {
  event.preventDefault();
  if (!state.file) return;
  showError(null);
  $("#run").disabled = true;
  $("#status").textContent = `Reading ${state.file.name}…`;
  state.query = queryFromForm();
  const body = new FormData();
  body.append("file", state.file);
  try {
    const result = await (await call(`/ocr?${state.query}`, { method: "POST", body })).json();
    forgetPageImages();
    state.result = result;
    state.page = 0;
    const lines = result.pages.reduce((n, p) => n + p.result.length, 0);
    const models = Object.entries(result.models).map(([k, v]) => `${k}=${v}`).join(", ");
    $("#status").textContent = `${lines} lines on ${result.pages.length} page(s) in ${result.timings_ms.total} ms (${models})`;
    $("#download").disabled = false;
    render();
  } catch (error) {
    state.result = null;
    $("#status").textContent = "";
    $("#download").disabled = true;
    clearDrawing();
    showError(error);
  } finally {
    $("#run").disabled = false;
  }
}

// --- drawing ------------------------------------------------------------------------------------------
function crc32(text) {
  let crc = -1;
  for (const byte of new TextEncoder().encode(text)) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ -1) >>> 0;
}

function hsv(h, s, v) {
  const f = (n) => { const k = (n + h * 6) % 6; return v - v * s * Math.max(0, Math.min(k, 4 - k, 1)); };
  return `rgb(${[f(5), f(3), f(1)].map((c) => Math.floor(c * 255)).join(",")})`;
}

// The same colours as service/gateway/visualize.py's label_colour: one hue per field, keys lighter, Others grey.
function labelColour(label) {
  const lower = label.toLowerCase();
  if (lower === "others" || lower === "ignore") return "rgb(150,150,150)";
  const match = lower.match(/^(.*)_(key|value)$/);
  const field = match ? match[1] : lower;
  const key = match && match[2] === "key";
  return hsv((crc32(field) % 360) / 360, key ? 0.45 : 0.9, key ? 0.95 : 0.8);
}

function el(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

const points = (box) => box.reduce((acc, v, i) => acc + (i % 2 ? `,${v} ` : `${v}`), "").trim();
const centre = (box) => {
  const xs = box.filter((_, i) => i % 2 === 0), ys = box.filter((_, i) => i % 2 === 1);
  return [xs.reduce((a, b) => a + b, 0) / xs.length, ys.reduce((a, b) => a + b, 0) / ys.length];
};

function clearDrawing() {
  for (const id of ["#layer-lines", "#layer-words", "#layer-pairs", "#layer-tags", "#lines", "#legend", "#pairs"]) {
    $(id).replaceChildren();
  }
  $("#kie-panel").hidden = true;
  $("#page-label").textContent = "No result";
  $("#prev").disabled = $("#next").disabled = true;
}

function drawBackground(page) {
  const { width, height } = page;
  const drawing = ++state.drawing; // a picture that arrives after the next render() is dropped
  const layer = $("#layer-image");
  layer.replaceChildren();
  $("#canvas").setAttribute("viewBox", `0 0 ${width} ${height}`);
  el("rect", { x: 0, y: 0, width, height, fill: "#fff" }, layer);
  if (state.isImage && state.url) {
    el("image", { href: state.url, x: 0, y: 0, width, height, preserveAspectRatio: "none" }, layer);
  } else {
    drawPageImage(page, drawing);
  }
}

// A PDF page or TIFF frame: the browser cannot draw it itself, so the gateway renders it (POST /visualize with
// draw=false, at the dpi of the /ocr call, no OCR). /ocr's boxes are in the pixels of the page turned upright by
// `rotation` degrees clockwise: the picture is turned the same way here.
async function drawPageImage(page, drawing) {
  let url;
  try {
    url = await pageImage(page.page);
  } catch (error) {
    if (state.drawing === drawing) {
      for (const line of page.result) if (line.text) drawGhostText(line); // no picture: write the text instead
      $("#status").textContent += ` (page picture unavailable: ${error.message})`;
    }
    return;
  }
  if (state.drawing !== drawing) return; // another page (or another answer) is shown by now
  const rotation = ((page.rotation || 0) % 360 + 360) % 360;
  const [w, h] = rotation % 180 ? [page.height, page.width] : [page.width, page.height];
  const transform = { 0: "", 90: `translate(${h},0) rotate(90)`, 180: `translate(${w},${h}) rotate(180)`,
    270: `translate(0,${w}) rotate(270)` }[rotation];
  const image = el("image", { href: url, x: 0, y: 0, width: w, height: h, preserveAspectRatio: "none",
    transform, "data-page": page.page }, $("#layer-image"));
  image.addEventListener("load", () => { image.dataset.loaded = "1"; });
}

function pageImage(number) {
  if (!state.pageImages.has(number)) {
    const query = new URLSearchParams({ page: number, draw: "false" });
    if (state.query && state.query.get("dpi")) query.set("dpi", state.query.get("dpi"));
    const body = new FormData();
    body.append("file", state.file);
    const made = call(`/visualize?${query}`, { method: "POST", body })
      .then((response) => response.blob())
      .then((blob) => URL.createObjectURL(blob));
    made.catch(() => state.pageImages.delete(number)); // try again when the page is shown again
    state.pageImages.set(number, made);
  }
  return state.pageImages.get(number);
}

function forgetPageImages() {
  for (const made of state.pageImages.values()) made.then(URL.revokeObjectURL, () => {});
  state.pageImages.clear();
}

function render() {
  clearDrawing();
  const pages = state.result.pages;
  const page = pages[state.page];
  $("#page-label").textContent = `Page ${state.page + 1} / ${pages.length}`;
  $("#prev").disabled = state.page === 0;
  $("#next").disabled = state.page >= pages.length - 1;
  drawBackground(page);
  const fontSize = Math.max(10, Math.round(Math.max(page.width, page.height) / 80));
  page.result.forEach((line, index) => drawLine(line, index, fontSize));
  drawKie(page);
  state.selected = null;
}

function drawLine(line, index, fontSize) {
  const colour = line.label ? labelColour(line.label) : "rgb(0,200,0)";
  const polygon = el("polygon", { class: "line", points: points(line.box), stroke: colour, "data-index": index },
    $("#layer-lines"));
  if (line.label) polygon.style.fill = colour.replace("rgb", "rgba").replace(")", ",0.25)");
  polygon.addEventListener("mouseenter", () => showInfo(line));
  polygon.addEventListener("click", () => select(index));
  for (const word of line.words || []) el("polygon", { class: "word", points: points(word.box) }, $("#layer-words"));
  if (line.label) {
    const xs = line.box.filter((_, i) => i % 2 === 0), ys = line.box.filter((_, i) => i % 2 === 1);
    const tag = el("text", { class: "tag", x: Math.min(...xs), y: Math.min(...ys) - 2, fill: colour, "font-size": fontSize },
      $("#layer-tags"));
    tag.textContent = line.label;
  }
  const item = document.createElement("li");
  item.dataset.index = index;
  item.append(line.text ?? "(not read)");
  if (line.label) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.style.background = labelColour(line.label);
    badge.textContent = line.label;
    item.append(badge);
  }
  item.addEventListener("mouseenter", () => showInfo(line));
  item.addEventListener("click", () => select(index));
  $("#lines").append(item);
}

function drawGhostText(line) {
  const xs = line.box.filter((_, i) => i % 2 === 0), ys = line.box.filter((_, i) => i % 2 === 1);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const text = el("text", { class: "ghost", x: x0, y: y0 + (y1 - y0) * 0.8, "font-size": (y1 - y0) * 0.8,
    textLength: x1 - x0, lengthAdjust: "spacingAndGlyphs" }, $("#layer-tags"));
  text.textContent = line.text;
}

function drawKie(page) {
  const labels = [...new Set(page.result.map((l) => l.label).filter(Boolean))].sort();
  if (!labels.length && !(page.pairs || []).length) return;
  $("#kie-panel").hidden = false;
  for (const label of labels) {
    const item = document.createElement("li");
    item.style.setProperty("--c", labelColour(label));
    item.textContent = label;
    $("#legend").append(item);
  }
  for (const pair of page.pairs || []) {
    const key = page.result[pair.from], value = page.result[pair.to];
    if (!key || !value) continue;
    const [x1, y1] = centre(key.box), [x2, y2] = centre(value.box);
    el("line", { class: "pair", x1, y1, x2, y2, stroke: labelColour(key.label || ""), "marker-end": "url(#arrow)" },
      $("#layer-pairs"));
    const item = document.createElement("li");
    item.textContent = `${key.text} → ${value.text}`;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = ` ${pair.score.toFixed(2)}`;
    item.append(score);
    $("#pairs").append(item);
  }
}

function showInfo(line) {
  const parts = [`“${line.text ?? ""}”`, `box ${line.box_score.toFixed(3)}`];
  if (line.text_score !== undefined && line.text_score !== null) parts.push(`text ${line.text_score.toFixed(3)}`);
  if (line.label) parts.push(`${line.label} ${line.label_score.toFixed(3)}`);
  if (line.words) parts.push(`${line.words.length} word(s): ${line.words.map((w) => `${w.text} ${w.text_score.toFixed(2)}`).join(" · ")}`);
  $("#info").textContent = parts.join("  |  ");
}

function select(index) {
  for (const node of document.querySelectorAll(".selected")) node.classList.remove("selected");
  state.selected = state.selected === index ? null : index;
  if (state.selected === null) return;
  const line = state.result.pages[state.page].result[index];
  document.querySelector(`polygon.line[data-index="${index}"]`).classList.add("selected");
  const item = document.querySelector(`#lines li[data-index="${index}"]`);
  item.classList.add("selected");
  item.scrollIntoView({ block: "nearest" });
  showInfo(line);
}

// --- downloads -------------------------------------------------------------------------------------------
function save(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function download() {
  const format = $("#format").value;
  const stem = state.file.name.replace(/\.[^.]+$/, "");
  const name = `${stem}.${FORMAT_EXT[format] || format}`;
  if (format === "json") {
    save(new Blob([JSON.stringify(state.result, null, 2)], { type: "application/json" }), name);
    return;
  }
  const body = new FormData();
  body.append("file", state.file);
  const query = new URLSearchParams(state.query);
  let path = "/visualize";
  if (format !== "png") { query.set("format", format); path = "/ocr"; }
  else { query.delete("pages"); query.set("page", state.result.pages[state.page].page); } // the page shown
  try {
    save(await (await call(`${path}?${query}`, { method: "POST", body })).blob(), name);
  } catch (error) {
    showError(error);
  }
}

// --- the file ---------------------------------------------------------------------------------------------
function useFile(file) {
  if (!file) return;
  if (state.url) URL.revokeObjectURL(state.url);
  forgetPageImages();
  state.file = file;
  state.url = URL.createObjectURL(file);
  state.isImage = file.type.startsWith("image/") && file.type !== "image/tiff"; // browsers cannot show TIFF
  $("#drop-text").textContent = `${file.name} (${Math.round(file.size / 1024)} KiB)`;
  $("#run").disabled = false;
}

function wire() {
  $("#file").addEventListener("change", (e) => useFile(e.target.files[0]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); useFile(e.dataTransfer.files[0]); });
  $("#run-form").addEventListener("submit", run);
  $("#prev").addEventListener("click", () => { state.page -= 1; render(); });
  $("#next").addEventListener("click", () => { state.page += 1; render(); });
  $("#download").addEventListener("click", download);
}

window.addEventListener("DOMContentLoaded", async () => {
  wire();
  await Promise.all([loadCatalog(), loadOptions()]);
  document.body.dataset.ready = "1"; // the page is wired and its model lists are filled
});
