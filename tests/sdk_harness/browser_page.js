// Steps of a session with Decart's JS SDK (window.Decart, bundled by js_sdk.py), run in a page by
// tests/test_service_livekit_browser.py. Everything is the SDK's public API; the camera is a
// canvas stream, and frames are counted as the <video> element presents them.
window.Flow = (() => {
  const out = { states: [], ticks: [], errors: [], queue: [] };
  let client = null;
  let realtime = null;

  function camera() {
    const canvas = document.createElement("canvas");
    canvas.width = 640;
    canvas.height = 352;
    const ctx = canvas.getContext("2d");
    let i = 0;
    const gradient = ctx.createLinearGradient(0, 0, 0, canvas.height);  // top to bottom: the camera's mark
    gradient.addColorStop(0, "rgb(40, 60, 80)");
    gradient.addColorStop(1, "rgb(200, 210, 220)");
    setInterval(() => {
      ctx.fillStyle = gradient;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "rgb(240, 240, 240)";
      ctx.fillRect((i * 8) % (canvas.width - 64), 144, 64, 64);
      i += 1;
    }, 1000 / 30);
    return canvas.captureStream(30);
  }

  function watch(name) {
    const video = document.createElement("video");
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    document.body.appendChild(video);
    const state = { video, frames: 0, sizes: {} };
    const count = (_now, meta) => {
      state.frames += 1;
      state.sizes[`${video.videoWidth}x${video.videoHeight}`] = true;
      video.requestVideoFrameCallback(count);
    };
    video.requestVideoFrameCallback(count);
    window[`__watch_${name}`] = state;
    return (stream) => {
      video.srcObject = stream;
      video.play().catch((e) => out.errors.push(`play: ${e}`));
    };
  }

  async function connect({ url, apiKey, model, prompt }) {
    client = Decart.createDecartClient({ apiKey, realtimeBaseUrl: url.replace(/^http/, "ws"), baseUrl: url, telemetry: false });
    realtime = await client.realtime.connect(camera(), {
      model: Decart.models.realtime(model),
      onRemoteStream: watch("client"),
      onConnectionChange: (s) => out.states.push(s),
      onQueuePosition: (q) => out.queue.push(q),
      initialState: { prompt: { text: prompt, enhance: false } },
    });
    realtime.on("generationTick", (t) => out.ticks.push(t.seconds));
    realtime.on("error", (e) => out.errors.push(String((e && e.message) || e)));
    return { sessionId: realtime.sessionId, state: realtime.getConnectionState() };
  }

  async function setPrompt(text) {
    await realtime.setPrompt(text, { enhance: false });
  }

  async function setImage(prompt) {
    const canvas = document.createElement("canvas");
    canvas.width = 64;
    canvas.height = 64;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "rgb(40, 60, 220)";
    ctx.fillRect(0, 0, 64, 64);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    await realtime.setImage(blob, { prompt, enhance: false });
  }

  async function subscribe() {
    const token = realtime.subscribeToken;
    const viewer = await client.realtime.subscribe({ token, onRemoteStream: watch("viewer") });
    return { token: !!token, state: viewer.getConnectionState() };
  }

  function frames(name) {
    const s = window[`__watch_${name}`];
    return s ? { frames: s.frames, sizes: Object.keys(s.sizes) } : { frames: 0, sizes: [] };
  }

  // The top `rows` rows of the picture now showing, RGBA as base64: the stamp is in them.
  function band(name, rows) {
    const video = window[`__watch_${name}`].video;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = rows;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(video, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, rows).data;
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
    return { width: canvas.width, rows, rgba: btoa(binary) };
  }

  // Mean luma of each row of the picture now showing (columns 200-1199).
  function rowMeans(name) {
    const video = window[`__watch_${name}`].video;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(video, 0, 0);
    const data = ctx.getImageData(200, 0, 1000, canvas.height).data;
    const means = [];
    for (let y = 0; y < canvas.height; y += 1) {
      let sum = 0;
      for (let x = 0; x < 1000; x += 1) {
        const i = (y * 1000 + x) * 4;
        sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      }
      means.push(sum / 1000);
    }
    return means;
  }

  function result() {
    return out;
  }

  function disconnect() {
    if (realtime) realtime.disconnect();
  }

  return { connect, setPrompt, setImage, subscribe, frames, band, rowMeans, result, disconnect };
})();
