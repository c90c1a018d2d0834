#!/usr/bin/python3
"""The dashboard in a real browser (spec/api.md API-14): Debian's headless Chromium,
driven by Selenium (python3-selenium, chromium-driver), watches a worker join, its
jobs counted, and its departure, on a real orchestrator and worker.

Usage: dashboard_test.py BIN_DIR   (ctest passes build/bin). Exits 0 on success,
1 with the reason otherwise; every process it starts is stopped when it ends.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
ENV = dict(os.environ, AIPOOL_ORCH_SECRET="browser-test-secret")


def wait_for(what, check, seconds=20):
    """Polls check() until it returns something truthy; fails naming `what`. The page
    rebuilds its tables every second, so an element read while it is replaced is
    simply read again at the next poll."""
    until = time.time() + seconds
    while time.time() < until:
        try:
            value = check()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def start_orchestrator():
    proc = subprocess.Popen([BIN + "/aipool-orchestrator", "-orchSecret", "", "-insecure",
                             "-serviceAddr", "127.0.0.1:0", "-httpAddr", "127.0.0.1:0"],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stdout:  # its log lines come first, on the same stream
        seen.append(line)
        match = re.search(r"ready grpc=(\d+) http=(\d+)", line)
        if match:  # keep reading, so that a full pipe never stops the orchestrator
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, int(match.group(1)), int(match.group(2))
        if len(seen) > 50:
            break
    proc.kill()
    raise AssertionError("the orchestrator did not start: " + "".join(seen))


def post_job(http):
    request = urllib.request.Request("http://127.0.0.1:%d/text-to-image" % http,
                                     data=json.dumps({"model_id": "test/echo", "prompt": "p"}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200, reply.status


def worker_rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#workers tbody tr")


def main():
    procs = []
    driver = None
    try:
        orch, grpc, http = start_orchestrator()
        procs.append(orch)
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get("http://127.0.0.1:%d/dashboard" % http)
        wait_for("the page to load its data",
                 lambda: "0 live worker(s)" in driver.find_element(By.ID, "status").text)

        worker = subprocess.Popen([BIN + "/aipool-worker", "-orchAddr", "127.0.0.1:%d" % grpc, "-orchSecret", "",
                                   "-insecure", "-aiModels", "text-to-image:test/echo:true:2"],
                                  env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(worker)
        wait_for("the worker's row with its model",
                 lambda: [r for r in worker_rows(driver) if "text-to-image test/echo 0/2" in r.text])
        wait_for("the model's row", lambda: "test/echo" in driver.find_element(By.ID, "keys").text)

        for _ in range(3):
            post_job(http)
        wait_for("3 jobs in the worker's row",
                 lambda: [r for r in worker_rows(driver) if r.find_elements(By.TAG_NAME, "td")[4].text == "3"])
        wait_for("the chart to draw the jobs",
                 lambda: driver.find_elements(By.CSS_SELECTOR, "#rate polyline")
                 and "jobs/s" in driver.find_element(By.ID, "rateLegend").text)

        worker.terminate()
        worker.wait(timeout=20)
        wait_for("the worker's departure", lambda: not worker_rows(driver))
        wait_for("the status line to say so", lambda: "0 live worker(s)" in driver.find_element(By.ID, "status").text)
        print("dashboard: a worker joined, its 3 jobs were counted, and it left, as the browser saw it")
        return 0
    except Exception as error:  # the reason, for ctest's output
        print("dashboard browser test failed: %s" % error)
        return 1
    finally:
        if driver is not None:
            driver.quit()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
