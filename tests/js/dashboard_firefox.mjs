// The dashboard of `cogid serve` in Firefox (issue 19, run by tests/test_dashboard_browser.py):
// each page given, loaded in headless Firefox through WebDriver BiDi (puppeteer-core driving
// Debian's firefox-esr: nothing is downloaded), with whatever its console and network said.
//
//   FIREFOX=/usr/bin/firefox-esr TOKEN=... node dashboard_firefox.mjs BOARD_URL KEY PATH...
//
// Prints one JSON line: {"version", "pages": [{"path", "status", "title", "inert", "problems"}],
// "inspected": {...}} where `problems` are console errors and warnings, page errors, CSP
// violations, failed or refused loads and dialogs, and `inert` says that no record value became
// markup (no <img> or <script> inside a dataset, window.pwned unset). TOKEN, if set, is pasted
// into the token inspector last.
import puppeteer from "puppeteer-core";

const [board, key, ...paths] = process.argv.slice(2);
const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  defaultViewport: null,
});
try {
  const page = await browser.newPage();
  let problems = [];
  page.on("console", (message) => {
    if (["error", "warn", "warning"].includes(message.type())) problems.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error?.message ?? error}`));
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()}`));
  page.on("response", (reply) => {
    if (reply.status() >= 400) problems.push(`HTTP ${reply.status()}: ${reply.url()}`);
  });
  page.on("dialog", async (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.evaluateOnNewDocument(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`));
  });
  const look = async (path, reply, wait) => {
    await new Promise((done) => setTimeout(done, wait));
    const inert = await page.evaluate(
      () => window.pwned === undefined && !document.querySelector("section.dataset img, section.dataset script"));
    const seen = { path, status: reply?.status() ?? 0, title: await page.title(), inert, problems };
    problems = [];
    return seen;
  };

  await page.goto(`${board}?key=${encodeURIComponent(key)}`, { waitUntil: "load" }); // the key becomes a cookie
  problems = [];
  const pages = [];
  for (const path of paths) {
    const reply = await page.goto(board + path, { waitUntil: "load" });
    pages.push(await look(path, reply, path === "requests" ? 2500 : 300)); // the live log polls every 2 s
  }
  let inspected = null;
  if (process.env.TOKEN) {
    await page.goto(board + "token", { waitUntil: "load" });
    problems = [];
    await page.type("#token", process.env.TOKEN);
    const [reply] = await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("form.token button")]);
    inspected = await look("token (inspected)", reply, 300);
    inspected.verdict = await page.$eval("#token-verdict", (element) => element.textContent);
  }
  console.log(JSON.stringify({ version: await browser.version(), pages, inspected }));
} finally {
  await browser.close();
}
