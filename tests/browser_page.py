"""The web page of `rag serve` in headless Chromium (scripts/test-browser.sh starts the server).

Walks what a user does: the key prompt (a wrong key first), an upload, a question whose answer
streams in with citations, the citation preview and the full chunk, a follow-up in the same
conversation, a filter set from a document's tag, Stop, hostile text, a narrow and a dark screen, deleting the document. Fails on
any JavaScript error and on any request to another origin. Screenshots go to $RAG_SCREENSHOTS.
"""
import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, KEY = os.environ["RAG_BASE"], os.environ["RAG_KEY"]
SHOTS, WORK = os.environ["RAG_SCREENSHOTS"], os.environ["RAG_WORK"]

DOCUMENT = """---
tags: [harbour, lights]
---
# The Zorblax lighthouse

The Zorblax lighthouse stands on the northern pier of Quellport harbour. Its lamp shines green,
not white, so that ships can tell it from the airport beacon. The keeper, Ilse Marrow, lights
it every evening at seven and climbs 143 steps to reach the lamp room.

## Repairs

The lens was replaced in 2019 after a storm cracked it. A note was left in the lamp room.
"""
# Plain text keeps markup as it is: it must reach the page as text.
NOTE = """The note in the Zorblax lamp room says: <img src=x onerror="window.xssFromDocument=1"> keep the green lamp lit.
"""


def cancelled_total():
    request = urllib.request.Request(BASE + "/metrics", headers={"Authorization": "Bearer " + KEY})
    text = urllib.request.urlopen(request).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("rag_generation_cancelled_total"))


def paint_timing(driver):
    """Reported, not asserted (timings do not belong in tests); the paint entries come after load."""
    return WebDriverWait(driver, 5).until(lambda d: d.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; const p = performance.getEntriesByType('paint');"
        "return p.length ? {paint: Math.min(...p.map(e => e.startTime)), response: n.responseEnd,"
        " bytes: performance.getEntriesByType('resource').reduce((a, r) => a + r.encodedBodySize, n.encodedBodySize)} : null;"))


def main():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 60, poll_frequency=0.05)
    failures = []

    def check(condition, message):
        if not condition:
            failures.append(message)
            print("FAIL:", message)

    def shot(name):
        driver.save_screenshot(os.path.join(SHOTS, name + ".png"))

    def answers():
        return driver.find_elements(By.CSS_SELECTOR, "#messages .message")

    def ask(question):
        box = driver.find_element(By.ID, "question")
        box.send_keys(question)
        box.send_keys(Keys.ENTER)

    def last(selector):
        """The text of the last message's part, read in one step (streaming replaces the elements)."""
        return driver.execute_script(
            "const m = document.querySelectorAll('#messages .message'); const e = m.length ? m[m.length - 1].querySelector(arguments[0]) : null;"
            "return e ? e.textContent : '';", selector)

    def wait_done():
        wait.until(lambda d: not d.find_element(By.ID, "stop").is_displayed())

    try:
        started = time.perf_counter()
        driver.get(BASE + "/")
        timing = paint_timing(driver)
        print(f"page: first paint {timing['paint']:.0f} ms after navigation start (HTML received at {timing['response']:.0f} ms), "
              f"{timing['bytes']} bytes, loaded in {1000 * (time.perf_counter() - started):.0f} ms")
        check(timing["bytes"] < 100_000, f"page weight {timing['bytes']} bytes (target < 100 KB)")

        # The server has a key: the page asks for it; a wrong one is refused with the server's message.
        dialog = wait.until(EC.visibility_of_element_located((By.ID, "key-dialog")))
        shot("1-key")
        driver.find_element(By.ID, "key-input").send_keys("wrong-key" + Keys.ENTER)
        wait.until(lambda d: "wrong API key" in d.find_element(By.ID, "key-message").text)
        key_input = driver.find_element(By.ID, "key-input")
        key_input.clear()
        key_input.send_keys(KEY + Keys.ENTER)
        wait.until(lambda d: not dialog.is_displayed())
        wait.until(lambda d: "0 documents" in d.find_element(By.ID, "status").text)

        # Upload a Markdown file through the file picker; the server's verdict and the list.
        driver.find_element(By.ID, "toggle-documents").click()
        paths = [os.path.join(WORK, "zorblax-lighthouse.md"), os.path.join(WORK, "lamp-room-note.txt")]
        for path, text in zip(paths, (DOCUMENT, NOTE)):
            with open(path, "w") as f:
                f.write(text)
        driver.find_element(By.ID, "file-input").send_keys("\n".join(paths))
        wait.until(lambda d: d.find_element(By.ID, "uploads").text.count("added") == 2)
        wait.until(lambda d: "zorblax-lighthouse.md" in d.find_element(By.ID, "document-list").text)
        wait.until(lambda d: "2 documents" in d.find_element(By.ID, "status").text)
        shot("2-documents")

        # Ask: text streams in (seen while Stop is shown), then citations and timings.
        ask("What colour is the lamp of the Zorblax lighthouse?")
        streamed = False
        deadline = time.time() + 60
        while time.time() < deadline:
            stop_shown = driver.find_element(By.ID, "stop").is_displayed()
            text = last(".answer")
            if stop_shown and text and "Searching" not in text:
                streamed = True
            if not stop_shown and answers():
                break
            time.sleep(0.03)
        wait_done()
        check(streamed, "no text was seen while the answer streamed")
        first = answers()[-1]
        check("zorblax-lighthouse.md" in first.find_element(By.CSS_SELECTOR, ".sources").text, "the sources list does not name the file")
        check("tok/s" in first.find_element(By.CSS_SELECTOR, ".timings").text, "no timings under the answer")
        links = first.find_elements(By.CSS_SELECTOR, ".answer a.cite")
        check(len(links) >= 1, "no citation link in the answer: " + first.text)
        if links:
            ActionChains(driver).move_to_element(links[0]).perform()
            preview = wait.until(EC.visibility_of_element_located((By.ID, "preview")))
            check("zorblax-lighthouse.md" in preview.text, "the citation preview does not name the file: " + preview.text)
            shot("3-answer-preview")
            links[0].click()
            wait.until(lambda d: "Zorblax" in d.find_element(By.ID, "chunk-body").text)
            check("zorblax-lighthouse.md" in driver.find_element(By.ID, "chunk-path").text, "the chunk dialog does not show the path")
            shot("4-chunk")
            driver.find_element(By.CSS_SELECTOR, "#chunk-dialog .close").click()
        # The note's chunk (among the sources: the index holds three chunks) shows its markup as text.
        note = [b for b in first.find_elements(By.CSS_SELECTOR, ".sources button") if "lamp-room-note.txt" in b.text]
        check(len(note) == 1, "the note is not among the sources")
        if note:
            note[0].click()
            wait.until(lambda d: "keep the green lamp lit" in d.find_element(By.ID, "chunk-body").text)
            check('<img src=x onerror="window.xssFromDocument=1">' in driver.find_element(By.ID, "chunk-body").text,
                  "the note's markup is not shown as text")
            shot("4b-markup-as-text")
            driver.find_element(By.CSS_SELECTOR, "#chunk-dialog .close").click()

        # A follow-up in the same conversation (chat completions with the history).
        ask("Who keeps it?")
        wait.until(lambda d: len(answers()) == 2)
        wait_done()
        check(answers()[-1].find_element(By.CSS_SELECTOR, ".answer").text.strip() != "", "the follow-up has no answer")
        conversations = driver.find_elements(By.CSS_SELECTOR, "#conversation-list li")
        check(len(conversations) == 1 and "Zorblax" in conversations[0].text, "the conversation is not listed by its first question")

        # A tag from the document's front matter, clicked in the list, filters the next question:
        # only that document is among the sources, and the turn says what it was limited to.
        tag = wait.until(lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#document-list .tag") if b.text == "tags=harbour"])
        tag[0].click()
        check(driver.find_element(By.ID, "filter-tags").get_attribute("value") == "tags=harbour", "the tag did not reach the filter")
        check("(1)" in driver.find_element(By.ID, "filter-count").text, "the filter's summary does not count the tag")
        driver.find_element(By.ID, "new-conversation").click()
        ask("How many steps does the keeper of the Zorblax lighthouse climb to the lamp room?")
        wait.until(lambda d: len(answers()) == 1)
        wait_done()
        sources = [b.text for b in answers()[0].find_elements(By.CSS_SELECTOR, ".sources button")]
        check(sources and all("zorblax-lighthouse.md" in s for s in sources), f"the filter let other documents in: {sources}")
        check("tags=harbour" in answers()[0].find_element(By.CSS_SELECTOR, ".filtered").text, "the turn does not show its filter")
        shot("4c-filter")
        driver.find_element(By.ID, "filter-clear").click()
        check(driver.find_element(By.ID, "filter-count").text == "", "Clear left the filter on")

        # Hostile text is shown as text: a question with markup, and the document's <img onerror>.
        driver.find_element(By.ID, "new-conversation").click()
        ask("<script>window.xssFromQuestion=1</script><b>bold?</b> What does the note in the Zorblax lamp room say?")
        wait.until(lambda d: len(answers()) == 1)
        wait_done()
        check("<script>" in answers()[0].find_element(By.CSS_SELECTOR, ".question").text, "the question's markup was not shown as text")
        for link in answers()[0].find_elements(By.CSS_SELECTOR, "a.cite")[:3]:
            ActionChains(driver).move_to_element(link).perform()
        injected = driver.execute_script(
            "return [window.xssFromQuestion, window.xssFromDocument,"
            " document.querySelectorAll('#messages script, #messages img, #messages b, #preview img, #chunk-body img').length]")
        check(injected == [None, None, 0], f"markup from the question or a document reached the DOM: {injected}")

        # Stop cancels the generation on the server.
        before = cancelled_total()
        ask("Write a long, detailed story about the Zorblax lighthouse, its keeper and every storm it has seen.")
        wait.until(lambda d: len(answers()) == 2 and d.find_element(By.ID, "stop").is_displayed())
        wait.until(lambda d: len(last(".answer")) > 30)
        driver.find_element(By.ID, "stop").click()
        wait.until(lambda d: "(stopped)" in last(".answer"))
        deadline = time.time() + 10
        while cancelled_total() <= before and time.time() < deadline:
            time.sleep(0.1)
        check(cancelled_total() > before, "Stop did not cancel the generation on the server")

        # Narrow and dark screens.
        if driver.find_element(By.ID, "documents").is_displayed():
            driver.find_element(By.ID, "toggle-documents").click()
        driver.set_window_size(360, 780)
        shot("5-narrow")
        check(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"), "the page scrolls sideways at 360 px")
        driver.set_window_size(1280, 900)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        shot("6-dark")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

        # Delete the document, with confirmation.
        if not driver.find_element(By.ID, "documents").is_displayed():
            driver.find_element(By.ID, "toggle-documents").click()
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#document-list li") if "zorblax-lighthouse.md" in r.text)
        row.find_element(By.TAG_NAME, "button").click()
        WebDriverWait(driver, 5).until(EC.alert_is_present()).accept()
        wait.until(lambda d: "zorblax-lighthouse.md" not in d.find_element(By.ID, "document-list").text)
        wait.until(lambda d: "1 document ·" in d.find_element(By.ID, "status").text)

        # Only this origin was asked for anything.
        origins = driver.execute_script("return performance.getEntriesByType('resource').map(r => new URL(r.name).origin)")
        check(all(o == BASE for o in origins), f"requests to other origins: {sorted(set(origins) - {BASE})}")
        # The page again, in a browser that has run it once (the key kept for the tab).
        driver.get(BASE + "/")
        print(f"page, loaded again: first paint {paint_timing(driver)['paint']:.0f} ms after navigation start")
    finally:
        # Any JavaScript error fails the test; the expected 401s of the key prompt are network entries.
        logs = driver.get_log("browser")
        errors = [e for e in logs if e["level"] == "SEVERE" and not (e.get("source") == "network" and " 401 " in e["message"])]
        for e in errors:
            print("browser console:", e["message"])
        if errors:
            failures.append(f"{len(errors)} console errors")
        shot("7-final")
        driver.quit()
    if failures:
        print(f"browser test: {len(failures)} failures")
        sys.exit(1)
    print(f"browser test: passed ({len(os.listdir(SHOTS))} screenshots in {SHOTS})")


if __name__ == "__main__":
    main()
