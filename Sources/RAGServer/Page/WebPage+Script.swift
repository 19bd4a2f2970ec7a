extension WebPage {
    /// Model and document text only ever reaches the DOM through `textContent` or through
    /// `escapeHTML` first (the markdown renderer adds its own tags to escaped text only).
    static let script = #"""
'use strict';
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem('rag-key') || '', conversations: loadConversations(), current: null,
  controller: null, documents: [] };
const allowed = ['txt', 'md', 'markdown', 'html', 'htm', 'pdf'];

function loadConversations() {
  try { return JSON.parse(localStorage.getItem('rag-conversations')) || []; } catch { return []; }
}
function saveConversations() { localStorage.setItem('rag-conversations', JSON.stringify(state.conversations)); }
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
function plural(n, word) { return `${n} ${word}${n === 1 ? '' : 's'}`; }
function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// --- API ---------------------------------------------------------------------------------
async function errorMessage(response) {
  const body = await response.json().catch(() => null);
  return body?.error?.message || `${response.status} ${response.statusText}`;
}
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.key) headers.set('Authorization', 'Bearer ' + state.key);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    const message = await errorMessage(response);
    askForKey(message);
    throw new Error(message);
  }
  return response;
}
function askForKey(message) {
  $('key-message').textContent = message || 'This server needs an API key.';
  if (!$('key-dialog').open) $('key-dialog').showModal();
}
$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.key = $('key-input').value.trim();
  sessionStorage.setItem('rag-key', state.key);
  $('key-dialog').close();
  refresh();
});

// Server-sent events from a fetch body: {event, data} for each block.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
      }
      yield { event, data };
    }
  }
}

// --- Markdown, safely: escape first, then add our own tags ---------------------------------
function inline(text, citations) {
  let html = escapeHTML(text);
  html = html.replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  return html.replace(/\[(\d{1,2})\]/g, (marker, n) => citations.some((c) => String(c.n) === n)
    ? `<a href="#" class="cite" data-n="${n}" aria-label="source ${n}">[${n}]</a>` : marker);
}
function renderMarkdown(text, citations) {
  let html = '';
  text.split('```').forEach((part, index) => {
    if (index % 2 === 1) { html += '<pre><code>' + escapeHTML(part.replace(/^[\w-]*\n/, '')) + '</code></pre>'; return; }
    for (const paragraph of part.split(/\n{2,}/)) {
      const lines = paragraph.split('\n').filter((line) => line.trim() !== '');
      if (!lines.length) continue;
      const item = /^\s*([-*]|\d+[.)])\s+/;
      if (lines.every((line) => item.test(line))) {
        const tag = /^\s*\d/.test(lines[0]) ? 'ol' : 'ul';
        html += `<${tag}>` + lines.map((line) => '<li>' + inline(line.replace(item, ''), citations) + '</li>').join('') + `</${tag}>`;
      } else {
        html += '<p>' + lines.map((line) => inline(line, citations)).join('<br>') + '</p>';
      }
    }
  });
  return html;
}

// --- Conversations -----------------------------------------------------------------------
function currentConversation() {
  let conversation = state.conversations.find((c) => c.id === state.current);
  if (!conversation) {
    conversation = { id: String(Date.now()) + Math.random().toString(16).slice(2, 6), title: 'New conversation', turns: [] };
    state.conversations.unshift(conversation);
    state.current = conversation.id;
  }
  return conversation;
}
function renderConversations() {
  const list = $('conversation-list');
  list.replaceChildren();
  for (const conversation of state.conversations) {
    const item = el('li', conversation.id === state.current ? 'current' : '');
    const open = el('button', 'open', conversation.title);
    open.title = conversation.title;
    open.addEventListener('click', () => { state.current = conversation.id; renderConversations(); renderMessages(); });
    const rename = el('button', '', 'Rename');
    rename.setAttribute('aria-label', 'Rename ' + conversation.title);
    rename.addEventListener('click', () => {
      const title = prompt('Rename the conversation', conversation.title);
      if (title && title.trim()) { conversation.title = title.trim(); saveConversations(); renderConversations(); }
    });
    const remove = el('button', '', 'Delete');
    remove.setAttribute('aria-label', 'Delete ' + conversation.title);
    remove.addEventListener('click', () => {
      if (!confirm(`Delete the conversation “${conversation.title}”?`)) return;
      state.conversations = state.conversations.filter((c) => c !== conversation);
      if (state.current === conversation.id) state.current = null;
      saveConversations(); renderConversations(); renderMessages();
    });
    item.append(open, rename, remove);
    list.append(item);
  }
}
$('new-conversation').addEventListener('click', () => {
  state.current = null;
  renderConversations(); renderMessages();
  $('question').focus();
});

// --- Messages ----------------------------------------------------------------------------
function turnElement(turn, index) {
  const article = el('article', 'message');
  article.dataset.turn = index;
  article.append(el('div', 'question', turn.question));
  if (turn.standalone) article.append(el('div', 'standalone muted', 'Searched for: ' + turn.standalone));
  if (turn.filter) article.append(el('div', 'filtered muted', 'Only documents matching ' + describeFilter(turn.filter)));
  const answer = el('div', 'answer');
  if (turn.status === 'unknown') {
    answer.classList.add('unknown');
    answer.textContent = 'I don’t know — nothing in the index covers this.';
  } else if (turn.status === 'error') {
    answer.classList.add('error');
    answer.textContent = turn.error;
  } else {
    answer.innerHTML = renderMarkdown(turn.answer, turn.citations || []);
    if (!turn.answer) answer.append(el('span', 'muted', turn.status === 'streaming' ? 'Searching and thinking…' : '(no answer)'));
    if (turn.status === 'stopped') answer.append(el('span', 'muted', ' (stopped)'));
  }
  article.append(answer);
  if (turn.timings) {
    const t = turn.timings;
    const generation = t.completion_tokens > 0 ? ` · first token ${t.ttft_ms} ms · ${t.decode_tok_s} tok/s` : '';
    article.append(el('div', 'timings muted', `retrieval ${t.retrieve_ms} ms` + generation + (turn.cached ? ' · cached' : '')));
  }
  if (turn.citations?.length && turn.status !== 'unknown') {
    const list = el('ol', 'sources');
    for (const citation of turn.citations) {
      const item = el('li');
      item.value = citation.n;
      const open = el('button', '', citation.document + (citation.heading ? ' — ' + citation.heading : ''));
      open.addEventListener('click', () => openChunk(citation));
      item.append(open);
      list.append(item);
    }
    article.append(list);
  }
  return article;
}
function renderMessages() {
  const conversation = state.conversations.find((c) => c.id === state.current);
  const messages = $('messages');
  messages.replaceChildren(...(conversation?.turns || []).map(turnElement));
  messages.scrollTop = messages.scrollHeight;
}
function citationOf(link) {
  const turn = state.conversations.find((c) => c.id === state.current)?.turns[link.closest('.message')?.dataset.turn];
  return turn?.citations?.find((c) => String(c.n) === link.dataset.n);
}
function showPreview(link) {
  const citation = citationOf(link);
  if (!citation) return;
  const preview = $('preview');
  preview.replaceChildren(el('strong', '', `[${citation.n}] ${citation.document}`));
  if (citation.heading) preview.append(el('em', '', citation.heading + '\n'));
  preview.append(document.createTextNode(citation.text.length > 600 ? citation.text.slice(0, 600) + '…' : citation.text));
  preview.hidden = false;
  const box = link.getBoundingClientRect();
  preview.style.left = Math.max(8, Math.min(box.left, window.innerWidth - preview.offsetWidth - 8)) + 'px';
  preview.style.top = (box.bottom + preview.offsetHeight + 8 < window.innerHeight ? box.bottom + 6 : Math.max(8, box.top - preview.offsetHeight - 6)) + 'px';
}
const messages = $('messages');
messages.addEventListener('mouseover', (e) => { if (e.target.classList?.contains('cite')) showPreview(e.target); });
messages.addEventListener('focusin', (e) => { if (e.target.classList?.contains('cite')) showPreview(e.target); });
messages.addEventListener('mouseout', (e) => { if (e.target.classList?.contains('cite')) $('preview').hidden = true; });
messages.addEventListener('focusout', (e) => { if (e.target.classList?.contains('cite')) $('preview').hidden = true; });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') $('preview').hidden = true; });
messages.addEventListener('click', (e) => {
  if (!e.target.classList?.contains('cite')) return;
  e.preventDefault();
  const citation = citationOf(e.target);
  if (citation) openChunk(citation);
});

async function openChunk(citation) {
  $('preview').hidden = true;
  $('chunk-title').textContent = `[${citation.n}] ` + (citation.heading || citation.document);
  $('chunk-path').textContent = citation.document;
  const body = $('chunk-body');
  body.replaceChildren(el('p', 'cited', citation.text));
  $('chunk-dialog').showModal();
  try {
    const response = await api('/v1/chunks/' + citation.chunk_id);
    if (!response.ok) throw new Error(await errorMessage(response));
    const chunk = await response.json();
    body.replaceChildren();
    if (chunk.previous) body.append(el('p', 'neighbour', chunk.previous.text));
    body.append(el('p', 'cited', chunk.text));
    if (chunk.next) body.append(el('p', 'neighbour', chunk.next.text));
    $('chunk-path').textContent = `${chunk.document} · chunk ${chunk.ordinal + 1}`;
  } catch (error) {
    body.append(el('p', 'muted', error.message));
  }
}

// --- Filter ------------------------------------------------------------------------------
// Tags are KEY=VALUE items separated by commas; a comma not followed by another `KEY=` belongs
// to the value (`tags=async, await`).
function filterTags() {
  return $('filter-tags').value.split(/,(?=[^,=]+=)/).map((t) => t.trim()).filter((t) => t.includes('='));
}
function currentFilter() {
  const filter = {};
  const path = $('filter-path').value.trim();
  if (path) filter.path = path;
  const tags = filterTags();
  if (tags.length) filter.tags = tags;
  const after = $('filter-after').value;
  if (after) filter.ingested_after = Date.parse(after + 'T00:00:00Z') / 1000;
  return Object.keys(filter).length ? filter : null;
}
function describeFilter(filter) {
  if (!filter) return '';
  const parts = [];
  if (filter.path) parts.push(filter.path);
  parts.push(...(filter.tags || []));
  if (filter.ingested_after) parts.push('after ' + new Date(filter.ingested_after * 1000).toISOString().slice(0, 10));
  return parts.join(' · ');
}
function filterChanged() {
  const filter = currentFilter();
  const count = filter ? (filter.path ? 1 : 0) + (filter.tags?.length || 0) + (filter.ingested_after ? 1 : 0) : 0;
  $('filter-count').textContent = count ? ` (${count}): ${describeFilter(filter)}` : '';
  localStorage.setItem('rag-filter', JSON.stringify({ path: $('filter-path').value, tags: $('filter-tags').value, after: $('filter-after').value }));
}
function addFilterTag(tag) {
  if (filterTags().includes(tag)) return;
  const current = $('filter-tags').value.trim();
  $('filter-tags').value = current ? current + ', ' + tag : tag;
  $('filter-box').open = true;
  filterChanged();
}
for (const id of ['filter-path', 'filter-tags', 'filter-after']) $(id).addEventListener('input', filterChanged);
$('filter-clear').addEventListener('click', () => {
  for (const id of ['filter-path', 'filter-tags', 'filter-after']) $(id).value = '';
  filterChanged();
});
try {
  const saved = JSON.parse(localStorage.getItem('rag-filter')) || {};
  $('filter-path').value = saved.path || ''; $('filter-tags').value = saved.tags || ''; $('filter-after').value = saved.after || '';
} catch {}

// --- Asking ------------------------------------------------------------------------------
function setBusy(busy) {
  $('send').disabled = busy;
  $('stop').hidden = !busy;
}
async function streamAsk(question, turn, signal, redraw) {
  const body = { question, top_k: Number($('top-k').value) || 5, template: $('template').value, stream: true };
  if (turn.filter) body.filter = turn.filter;
  const response = await api('/v1/ask', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal });
  if (!response.ok) throw new Error(await errorMessage(response));
  for await (const { event, data } of events(response)) {
    const payload = JSON.parse(data);
    if (event === 'token') { turn.answer += payload.text; redraw(); }
    else if (event === 'sources') { turn.citations = payload.citations; redraw(); }
    else if (event === 'error') throw new Error(payload.error?.message || 'the answer failed');
    else if (event === 'done') {
      Object.assign(turn, { answer: payload.answer, citations: payload.citations, timings: payload.timings, cached: payload.cached });
      turn.status = payload.abstained || payload.declined ? 'unknown' : payload.stop === 'cancelled' ? 'stopped' : 'done';
    }
  }
}
async function streamChat(history, question, turn, signal, redraw) {
  const messages = history.flatMap((t) => [{ role: 'user', content: t.question }, { role: 'assistant', content: t.answer }]);
  messages.push({ role: 'user', content: question });
  const template = $('template').value;
  const model = template === 'cot' || template === 'fewshot' ? 'rag:' + template : 'rag';
  const body = { model, messages, stream: true };
  if (turn.filter) body.filter = turn.filter;
  const response = await api('/v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body), signal });
  if (!response.ok) throw new Error(await errorMessage(response));
  for await (const { data } of events(response)) {
    if (data === '[DONE]') break;
    const chunk = JSON.parse(data);
    if (chunk.error) throw new Error(chunk.error.message);
    const text = chunk.choices?.[0]?.delta?.content;
    if (text) { turn.answer += text; redraw(); }
    if (chunk.citations) { turn.citations = chunk.citations; redraw(); }
    if (chunk.standalone_question) { turn.standalone = chunk.standalone_question; redraw(); }
  }
  turn.status = 'done';
}
async function ask(question) {
  const conversation = currentConversation();
  const history = conversation.turns.filter((t) => t.status === 'done');
  const turn = { question, answer: '', citations: [], status: 'streaming', filter: currentFilter() };
  conversation.turns.push(turn);
  if (conversation.title === 'New conversation') conversation.title = question.slice(0, 60);
  saveConversations(); renderConversations(); renderMessages();
  const index = conversation.turns.length - 1;
  const redraw = () => {
    if (state.current !== conversation.id) return;  // another conversation is on screen
    const old = $('messages').querySelector(`[data-turn="${index}"]`);
    if (old) old.replaceWith(turnElement(turn, index));
    $('messages').scrollTop = $('messages').scrollHeight;
  };
  state.controller = new AbortController();
  setBusy(true);
  try {
    if (history.length) await streamChat(history, question, turn, state.controller.signal, redraw);
    else await streamAsk(question, turn, state.controller.signal, redraw);
    if (turn.status === 'streaming') turn.status = 'done';
  } catch (error) {
    if (error.name === 'AbortError') turn.status = 'stopped';
    else { turn.status = 'error'; turn.error = error.message; }
  } finally {
    state.controller = null;
    setBusy(false);
    saveConversations();
    redraw();
  }
}
$('ask-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const question = $('question').value.trim();
  if (!question || state.controller) return;
  $('question').value = '';
  ask(question);
});
$('question').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('ask-form').requestSubmit();
  }
});
$('stop').addEventListener('click', () => state.controller?.abort());

// --- Documents ---------------------------------------------------------------------------
function size(bytes) {
  return bytes < 1024 ? bytes + ' B' : bytes < 1048576 ? (bytes / 1024).toFixed(1) + ' KB' : (bytes / 1048576).toFixed(1) + ' MB';
}
function renderDocuments() {
  const filter = $('document-filter').value.trim().toLowerCase();
  const list = $('document-list');
  list.replaceChildren();
  const matches = (d) => d.path.toLowerCase().includes(filter) || (d.tags || []).some((t) => t.toLowerCase().includes(filter));
  for (const document_ of state.documents.filter(matches)) {
    const item = el('li');
    const name = el('span', 'name', document_.path.split('/').pop());
    name.title = document_.path;
    const when = new Date(document_.ingested_at * 1000).toLocaleString();
    const details = el('span', 'muted', `${plural(document_.chunks, 'chunk')} · ${size(document_.size)} · ${new Date(document_.ingested_at * 1000).toLocaleDateString()}`);
    details.title = 'ingested ' + when;
    const remove = el('button', '', 'Delete');
    remove.setAttribute('aria-label', 'Delete ' + document_.path);
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete ${document_.path} from the index?`)) return;
      const response = await api('/v1/documents/' + document_.id, { method: 'DELETE' }).catch((e) => ({ ok: false, e }));
      if (!response.ok) alert(response.e?.message || await errorMessage(response));
      refresh();
    });
    item.append(name, details, remove);
    if (document_.tags?.length) {
      const tags = el('span', 'tags');
      for (const tag of document_.tags) {
        const button = el('button', 'tag', tag);
        button.title = 'Ask only documents with ' + tag;
        button.addEventListener('click', () => addFilterTag(tag));
        tags.append(button);
      }
      item.append(tags);
    }
    list.append(item);
  }
}
$('document-filter').addEventListener('input', renderDocuments);
async function refresh() {
  try {
    const response = await api('/v1/documents?limit=10000');
    if (!response.ok) throw new Error(await errorMessage(response));
    const body = await response.json();
    state.documents = body.documents;
    renderDocuments();
    const health = await (await api('/healthz')).json();
    $('status').textContent = `${plural(health.documents, 'document')} · ${plural(health.chunks, 'chunk')} · ${health.model}`;
  } catch (error) {
    $('status').textContent = error.message;
  }
}
function upload(files) {
  for (const file of files) {
    const item = el('li', '', file.name + ': ');
    const verdict = el('span');
    item.append(verdict);
    $('uploads').prepend(item);
    const extension = file.name.split('.').pop().toLowerCase();
    if (!allowed.includes(extension)) { verdict.textContent = 'skipped: not a .txt, .md, .html or .pdf file'; continue; }
    const progress = el('progress');
    progress.max = 1; progress.value = 0;
    item.append(progress);
    const request = new XMLHttpRequest();
    request.open('POST', '/v1/documents');
    if (state.key) request.setRequestHeader('Authorization', 'Bearer ' + state.key);
    request.upload.addEventListener('progress', (e) => { if (e.lengthComputable) progress.value = e.loaded / e.total; });
    request.addEventListener('load', () => {
      progress.remove();
      let body = null;
      try { body = JSON.parse(request.responseText); } catch {}
      if (request.status === 401) askForKey(body?.error?.message);
      if (request.status >= 400) { verdict.textContent = 'failed: ' + (body?.error?.message || request.status); return; }
      const result = body.files[0];
      verdict.textContent = `${result.status} (${plural(result.chunks, 'chunk')})`;
      refresh();
    });
    request.addEventListener('error', () => { progress.remove(); verdict.textContent = 'failed: the server did not answer'; });
    verdict.textContent = 'uploading… ';
    const form = new FormData();
    form.append('file', file, file.name);
    request.send(form);
  }
}
$('file-input').addEventListener('change', (e) => { upload(e.target.files); e.target.value = ''; });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload(e.dataTransfer.files); });
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file-input').click(); } });

// --- Panels ------------------------------------------------------------------------------
function toggle(button, panel) {
  const open = !$(panel).classList.contains('open');
  $(panel).classList.toggle('open', open);
  $(button).setAttribute('aria-expanded', String(open));
}
$('toggle-documents').addEventListener('click', () => toggle('toggle-documents', 'documents'));
$('toggle-conversations').addEventListener('click', () => toggle('toggle-conversations', 'conversations'));

filterChanged();
state.current = state.conversations[0]?.id || null;
renderConversations();
renderMessages();
refresh();
"""#
}
