extension WebPage {
    static let style = #"""
:root { --bg: #ffffff; --fg: #1d1d1f; --muted: #6b6b70; --line: #d9d9de; --panel: #f5f5f7; --accent: #2457c5;
  --answer: #f0f4fc; --warn: #fff6e0; --bad: #b3261e; font-family: system-ui, sans-serif; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16171a; --fg: #e8e8ea; --muted: #9a9aa2; --line: #33343a; --panel: #1f2024; --accent: #8ab0ff;
    --answer: #1d2533; --warn: #3a3020; --bad: #ff8a80; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); height: 100vh; display: flex; flex-direction: column; }
button, select, input, textarea { font: inherit; color: inherit; }
button { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .35em .8em; cursor: pointer; }
button:hover { border-color: var(--accent); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.muted { color: var(--muted); font-size: .9em; }
.bar { display: flex; align-items: center; gap: .8em; padding: .5em 1em; border-bottom: 1px solid var(--line); }
.bar h1 { font-size: 1.2em; margin: 0; }
#status { flex: 1; min-width: 0; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.layout { flex: 1; display: flex; min-height: 0; }
.panel { background: var(--panel); padding: .8em; overflow-y: auto; }
.side { width: 16em; border-right: 1px solid var(--line); }
.side.right { width: 22em; border-right: 0; border-left: 1px solid var(--line); }
.wide { width: 100%; }
main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
#messages { flex: 1; overflow-y: auto; padding: 1em; }
.message { max-width: 52em; margin: 0 auto 1em; }
.question { font-weight: 600; white-space: pre-wrap; overflow-wrap: anywhere; }
.answer { background: var(--answer); border-radius: 8px; padding: .6em .9em; margin-top: .4em; overflow-wrap: anywhere; }
.answer.unknown { background: var(--warn); }
.answer.error { color: var(--bad); }
.answer pre { overflow-x: auto; background: var(--bg); padding: .5em; border-radius: 4px; }
.answer p { margin: .4em 0; }
.cite { color: var(--accent); text-decoration: none; font-size: .85em; vertical-align: super; }
.timings { margin-top: .3em; }
.sources { margin: .4em 0 0; padding-left: 1.4em; font-size: .9em; }
.sources button { display: inline; background: none; border: 0; padding: 0; color: var(--accent); text-align: left; overflow-wrap: anywhere; }
.answer ul, .answer ol { list-style: revert; padding-left: 1.4em; }
.composer { border-top: 1px solid var(--line); padding: .6em 1em; display: flex; flex-direction: column; gap: .4em; }
.composer textarea { width: 100%; resize: vertical; padding: .5em; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); }
.controls { display: flex; flex-wrap: wrap; gap: .6em; align-items: center; justify-content: flex-end; }
.controls input { width: 4em; }
.filter summary { cursor: pointer; color: var(--muted); font-size: .9em; }
.filter-fields { display: flex; flex-wrap: wrap; gap: .6em; align-items: center; padding-top: .4em; }
.filter-fields input { padding: .2em .4em; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); max-width: 100%; }
#filter-tags { width: 16em; }
.tag { background: none; border: 1px solid var(--line); border-radius: 10px; padding: 0 .5em; font-size: .8em; color: var(--accent); }
.tags { flex-basis: 100%; display: flex; flex-wrap: wrap; gap: .25em; }
.standalone { margin-top: .2em; font-style: italic; }
ul { list-style: none; padding: 0; margin: .5em 0; }
#conversation-list li, #document-list li { display: flex; align-items: center; gap: .3em; padding: .25em 0; border-bottom: 1px solid var(--line); }
#conversation-list li.current > .open { font-weight: 700; }
#conversation-list .open, #document-list .name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#document-list li, #conversation-list li { flex-wrap: wrap; }
#document-list .name, #conversation-list .open { flex-basis: 100%; }
#document-list .muted { flex: 1; }
#conversation-list .open { background: none; border: 0; text-align: left; padding: .2em; }
#conversation-list li button:not(.open), #document-list button { padding: .1em .4em; font-size: .85em; }
.drop { border: 2px dashed var(--line); border-radius: 8px; padding: 1em; text-align: center; margin-bottom: .5em; }
.drop.over { border-color: var(--accent); }
.link { color: var(--accent); text-decoration: underline; cursor: pointer; }
#uploads li { font-size: .9em; }
#uploads progress { width: 100%; }
#document-filter { width: 100%; padding: .3em; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); }
.preview { position: fixed; z-index: 10; max-width: 28em; background: var(--bg); border: 1px solid var(--line);
  border-radius: 8px; padding: .6em .8em; box-shadow: 0 4px 16px rgba(0,0,0,.2); font-size: .9em; white-space: pre-wrap;
  pointer-events: none; }
.preview strong { display: block; }
dialog { max-width: min(48em, 94vw); border: 1px solid var(--line); border-radius: 10px; background: var(--bg); color: var(--fg); }
dialog .close { float: right; }
#chunk-body p { white-space: pre-wrap; }
#chunk-body .cited { border-left: 3px solid var(--accent); padding-left: .6em; }
#chunk-body .neighbour { color: var(--muted); }
@media (max-width: 800px) {
  .side { position: fixed; top: 3em; bottom: 0; z-index: 5; width: 85vw; }
  .side.right { right: 0; width: 90vw; }
  .side:not(.open) { display: none; }
}
@media (min-width: 801px) { #toggle-conversations { display: none; } .side.right:not(.open) { display: none; } }
"""#
}
