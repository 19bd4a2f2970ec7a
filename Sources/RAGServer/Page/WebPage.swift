internal import Foundation

/// The page `rag serve` serves at `/`: HTML, CSS and JavaScript of our own, compiled into the
/// binary (no build step, no CDN, nothing fetched at run time), using only the public API.
/// `WebPage+Script.swift` and `WebPage+Style.swift` hold the other two. The style sheet is
/// inlined (one round trip less before the first paint), allowed by its hash in the CSP.
enum WebPage {
    /// The HTML as served: the style sheet in its `<style>` element.
    static let document = html.replacingOccurrences(of: "<style></style>", with: "<style>" + style + "</style>")

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>rag</title>
<link rel="icon" href="data:,">
<style></style>
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="bar">
  <button id="toggle-conversations" class="icon" aria-controls="conversations" aria-expanded="false" title="Conversations">☰</button>
  <h1>rag</h1>
  <span id="status" class="muted" role="status"></span>
  <button id="toggle-documents" aria-controls="documents" aria-expanded="false">Documents</button>
</header>
<div class="layout">
  <nav id="conversations" class="panel side" aria-label="Conversations">
    <button id="new-conversation" class="wide">New conversation</button>
    <ul id="conversation-list"></ul>
  </nav>
  <main id="chat" aria-live="polite">
    <div id="messages"></div>
    <form id="ask-form" class="composer">
      <label for="question" class="sr-only">Question</label>
      <textarea id="question" rows="2" placeholder="Ask the documents… (Enter sends, Shift+Enter: new line)" required></textarea>
      <details id="filter-box" class="filter">
        <summary>Filter<span id="filter-count"></span></summary>
        <div class="filter-fields">
          <label>Path <input id="filter-path" type="text" placeholder="docs/*.md" maxlength="1000"></label>
          <label>Tags <input id="filter-tags" type="text" placeholder="team=ml, tags=rust"></label>
          <label>Ingested after <input id="filter-after" type="date"></label>
          <button id="filter-clear" type="button">Clear</button>
        </div>
      </details>
      <div class="controls">
        <label>Template
          <select id="template">
            <option value="default">default</option><option value="cot">cot</option>
            <option value="fewshot">fewshot</option><option value="yesno">yesno</option>
          </select>
        </label>
        <label>Sources <input id="top-k" type="number" min="1" max="20" value="5"></label>
        <button id="send" type="submit">Ask</button>
        <button id="stop" type="button" hidden>Stop</button>
      </div>
    </form>
  </main>
  <aside id="documents" class="panel side right" aria-label="Documents">
    <h2>Documents</h2>
    <div id="drop" class="drop" tabindex="0">
      Drop .txt, .md, .html or .pdf files here, or
      <label class="link">choose files<input id="file-input" type="file" multiple accept=".txt,.md,.markdown,.html,.htm,.pdf" class="sr-only"></label>
    </div>
    <ul id="uploads"></ul>
    <label for="document-filter" class="sr-only">Filter documents by name or tag</label>
    <input id="document-filter" type="search" placeholder="Filter by name or tag">
    <ul id="document-list"></ul>
  </aside>
</div>
<div id="preview" class="preview" role="tooltip" hidden></div>
<dialog id="chunk-dialog">
  <form method="dialog"><button class="close" aria-label="Close">✕</button></form>
  <h2 id="chunk-title"></h2>
  <p id="chunk-path" class="muted"></p>
  <div id="chunk-body"></div>
</dialog>
<dialog id="key-dialog">
  <form id="key-form">
    <h2>API key</h2>
    <p id="key-message">This server needs an API key.</p>
    <input id="key-input" type="password" autocomplete="off" required aria-label="API key">
    <button type="submit">Use key</button>
  </form>
</dialog>
</body>
</html>
"""#
}
