package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web console in a real headless Chromium, against a real server: sign in, deploy a folder,
 * see a broken version fail with its reason, test-call the function, find that call's log line,
 * roll back, set a traffic split and a tag, read the charts, watch a map job progress and cancel it, read a failed job's
 * tracebacks. The steps run in order, each starting where the last one left the browser; each
 * page is saved as a screenshot (docs/console/ holds the ones the README shows; see {@link ConsoleBrowser}).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest extends GaleE2E {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static ConsoleBrowser browser;
    private static WebDriver driver;
    private static String requestId;
    private static Thread traffic;
    private static volatile boolean trafficStops;

    @BeforeAll
    static void openBrowser() {
        browser = ConsoleBrowser.open();
        driver = browser.driver();
    }

    @AfterAll
    static void closeBrowser() throws InterruptedException {
        stopTraffic();
        if (browser != null) browser.close();
    }

    /** Calls of the kind a page of charts is made of: a few a second, every tenth one failing while v2 serves. */
    private static void startTraffic() {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        traffic = Thread.ofVirtual().name("console-test-traffic").start(() -> {
            for (int i = 0; !trafficStops && System.nanoTime() < deadline; i++) {
                gale.get("greeter", i % 10 == 9 ? "/?name=fail" : "/?name=traffic");
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    private static void stopTraffic() throws InterruptedException {
        trafficStops = true;
        if (traffic != null) traffic.join();
    }

    @Test
    @Order(1)
    void signingInNeedsTheTokenAndKeepsItInTheTabOnly() {
        driver.get(gale.server.url() + "/");
        wait(d -> d.getCurrentUrl().contains("#/signin"));
        type(By.id("token"), "not-the-token");
        driver.findElement(By.id("signin")).click();
        assertThat(waitFor(By.cssSelector(".problem")).getText()).contains("refused");
        assertThat(driver.findElement(By.id("nav")).isDisplayed()).as("no pages before signing in").isFalse();
        assertThat(driver.findElement(By.id("signout")).isDisplayed()).isFalse();
        browser.screenshot("signin");

        driver.findElement(By.id("token")).clear();
        type(By.id("token"), gale.server.adminToken());
        driver.findElement(By.id("signin")).click();
        waitFor(By.cssSelector(".empty:not([hidden])")); // no functions yet
        Object cookies = browser.script("return document.cookie");
        assertThat(cookies).isEqualTo("");
        assertThat(browser.script("return sessionStorage.getItem('gale.token')")).isEqualTo(gale.server.adminToken());
    }

    @Test
    @Order(2)
    void aFolderDeployedFromTheBrowserGoesActive() {
        Path folder = gale.bundle("greeter", "main.py", """
                def greet(request):
                    name = request.args.get("name", "world")
                    print("greeting", name)
                    return {"greeting": "hello " + name}
                """, "data/words.txt", "hello\n", "__pycache__/main.cpython-311.pyc", "stale");
        driver.findElement(By.cssSelector("a[data-nav=deploy]")).click();
        type(By.id("deploy-name"), "greeter");
        driver.findElement(By.id("deploy-folder")).sendKeys(folder.toString());
        type(By.id("deploy-entryPoint"), "greet");
        driver.findElement(By.id("deploy-public")).click();
        driver.findElement(By.id("deploy-submit")).click();
        waitFor(By.cssSelector("#deploy-state [data-state=ACTIVE]"));
        assertThat(driver.findElement(By.id("deploy-log")).getText()).contains("version 1 is ACTIVE");
        browser.screenshot("deploy");
        assertThat(gale.client.call("greeter", "GET", "/?name=api", new byte[0], java.util.Map.of()).body())
                .asString().contains("hello api");
        assertThat(gale.bundleFile("greeter", "data/words.txt")).exists();
        assertThat(gale.bundleFile("greeter", "__pycache__/main.cpython-311.pyc")).doesNotExist();
    }

    @Test
    @Order(3)
    void aBrokenVersionFailsWithItsReasonWhileTheOldOneServes() {
        gale.deployActive("greeter", gale.bundle("greeter", "main.py", """
                def greet(request):
                    name = request.args.get("name", "world")
                    if name == "fail":
                        raise ValueError("asked to fail")
                    print("greeting", name)
                    return {"greeting": "hi " + name}
                """), "entryPoint", "greet");
        startTraffic();
        driver.get(gale.server.url() + "/#/deploy?function=greeter");
        wait(d -> d.findElement(By.id("deploy-entryPoint")).getAttribute("value").equals("greet")); // filled in from v2
        assertThat(driver.findElement(By.id("deploy-public")).isSelected()).isTrue();
        driver.findElement(By.id("deploy-zip")).sendKeys(zip("broken", "main.py", "def greet(request)\n    return 1\n").toString());
        driver.findElement(By.id("deploy-submit")).click();
        WebElement failed = waitFor(By.cssSelector("#deploy-state [data-state=FAILED]"));
        assertThat(failed.getText()).contains("v3 FAILED");
        assertThat(driver.findElement(By.cssSelector("#deploy-state .reason")).getText()).contains("syntax error");

        driver.findElement(By.cssSelector("a[data-nav=functions]")).click();
        WebElement row = waitFor(By.cssSelector("tr[data-function=greeter]"));
        wait(d -> row.getText().contains("v3 failed"));
        assertThat(row.findElement(By.cssSelector("[data-state=ACTIVE]")).getText()).contains("active v2");
    }

    @Test
    @Order(4)
    void aTestCallShowsTheAnswerAndLeadsToItsLogLine() {
        driver.findElement(By.cssSelector("tr[data-function=greeter] a.name")).click();
        waitFor(By.cssSelector("a[data-tab=testing]")).click();
        type(By.id("test-query"), "name=<b>console</b>"); // markup from a function stays text
        driver.findElement(By.id("test-send")).click();
        assertThat(waitFor(By.id("test-status")).getText()).isEqualTo("200");
        assertThat(driver.findElement(By.id("test-body-out")).getText()).contains("\"greeting\": \"hi <b>console</b>\"");
        assertThat(driver.findElements(By.cssSelector("#test-body-out b"))).isEmpty();
        assertThat(driver.findElement(By.id("test-cold")).getText()).isIn("yes", "no");
        WebElement id = driver.findElement(By.id("test-request-id"));
        requestId = id.getText();
        assertThat(requestId).matches("[0-9a-f-]{36}");
        browser.screenshot("testing");

        id.click();
        wait(d -> d.getCurrentUrl().contains("/logs?requestId="));
        WebElement line = waitFor(By.cssSelector("#log-lines tr[data-request-id='" + requestId + "']"));
        assertThat(line.getText()).contains("greeting <b>console</b>");
        assertThat(driver.findElements(By.cssSelector("#log-lines b"))).isEmpty();
        assertThat(driver.findElement(By.id("logs-request-id")).getAttribute("value")).isEqualTo(requestId);
        assertThat(driver.findElements(By.cssSelector("#log-lines tr"))).allSatisfy(tr ->
                assertThat(tr.getAttribute("data-request-id")).isEqualTo(requestId));
        wait(d -> d.findElement(By.id("logs-state")).getText().equals("live"));
    }

    @Test
    @Order(5)
    void liveLogsShowANewCallsLinesAsTheyAreWritten() {
        driver.findElement(By.id("logs-request-id")).clear();
        driver.findElement(By.id("logs-request-id")).sendKeys(" "); // an input event: the filter is cleared
        wait(d -> d.findElements(By.cssSelector("#log-lines tr")).size() > 1);
        gale.get("greeter", "/?name=streamed");
        waitFor(By.xpath("//tbody[@id='log-lines']/tr[contains(., 'greeting streamed')]"));
        browser.screenshot("logs");
    }

    @Test
    @Order(6)
    void rollingBackFromTheVersionsTableServesTheOldVersion() {
        driver.findElement(By.cssSelector("a[data-tab=overview]")).click();
        waitFor(By.cssSelector("#versions tr[data-version='1'] button.rollback")).click();
        wait(d -> d.findElement(By.cssSelector("#versions tr[data-version='1'] [data-state]")).getAttribute("data-state").equals("ACTIVE"));
        assertThat(driver.findElement(By.cssSelector("#versions tr[data-version='2'] [data-state]")).getAttribute("data-state"))
                .isEqualTo("INACTIVE");
        assertThat(driver.findElement(By.cssSelector("#traffic .share")).getText()).contains("v1");
        assertThat(GaleHarness.text(gale.get("greeter", "/?name=back"))).contains("hello back");
        browser.screenshot("function");

        String console = driver.getWindowHandle();
        driver.findElement(By.cssSelector(".url a")).click(); // the function's own page, in a tab of its own
        wait(d -> d.getWindowHandles().size() == 2);
        driver.switchTo().window(driver.getWindowHandles().stream().filter(h -> !h.equals(console)).findFirst().orElseThrow());
        wait(d -> d.getPageSource().contains("hello world"));
        assertThat(browser.script("return sessionStorage.getItem('gale.token')")).as("the function's tab has no token").isNull();
        driver.close();
        driver.switchTo().window(console);
    }

    @Test
    @Order(7)
    void aSplitSetInTheBrowserShowsAsBarsAndSendsCallsToBothVersions() {
        driver.findElement(By.cssSelector("a[data-tab=overview]")).click();
        type(By.id("traffic-to"), "v1=80,v2=20");
        driver.findElement(By.id("traffic-set")).click();
        waitFor(By.id("traffic-done"));
        wait(d -> d.findElements(By.cssSelector("#traffic-bars .share")).stream().map(WebElement::getText).toList()
                .equals(List.of("v1 · 80%", "v2 · 20%")));
        assertThat(driver.findElement(By.id("traffic-mode")).getText()).startsWith("Split pinned");
        assertThat(gale.client.traffic("greeter").path("to").toString()).isEqualTo("{\"1\":80,\"2\":20}");

        type(By.id("tag-name"), "canary");
        type(By.id("tag-version"), "v2");
        driver.findElement(By.id("tag-add")).click();
        WebElement tagUrl = waitFor(By.cssSelector("#traffic-tags [data-tag=canary] a"));
        assertThat(tagUrl.getText()).isEqualTo(gale.server.url() + "/fn/greeter@canary");
        assertThat(GaleHarness.text(gale.get("greeter@canary", "/?name=tagged"))).contains("hi tagged"); // v2 says hi

        // The calls each version served in the last hour, row by row: what a canary is judged by.
        for (int i = 0; i < 30; i++) gale.get("greeter", "/?name=split");
        wait(d -> Integer.parseInt(d.findElement(By.cssSelector("#traffic-versions tr[data-version='2'] td:nth-child(4)")).getText()) > 0
                && Integer.parseInt(d.findElement(By.cssSelector("#traffic-versions tr[data-version='1'] td:nth-child(4)")).getText()) > 0);
        browser.screenshot("traffic");

        driver.findElement(By.id("traffic-latest")).click();
        wait(d -> d.findElements(By.cssSelector("#traffic-bars .share")).stream().map(WebElement::getText).toList()
                .equals(List.of("v1 · 100%")));
        assertThat(gale.client.traffic("greeter").path("pinned").asBoolean()).isFalse();
    }

    @Test
    @Order(8)
    void aRunningJobShowsProgressAndCanBeCancelled() {
        gale.deployActive("pricer", gale.bundle("pricer", "main.py", """
                import time
                def price(request):
                    task = request.get_json()
                    time.sleep(task.get("sleep", 0))
                    if task.get("fail"):
                        raise ValueError("input %d cannot be priced" % task["x"])
                    return {"x": task["x"], "price": task["x"] * 1.5}
                """), "entryPoint", "price");
        var jobs = new JobsHttp(gale);
        String failing = jobs.submit(inputs(6, 0, true)).path("id").asText();
        jobs.awaitEnd(failing);
        String running = jobs.submit(inputs(300, 0.2, false)).path("id").asText();

        driver.findElement(By.cssSelector("a[data-nav=jobs]")).click();
        By bar = By.cssSelector(".bar[data-job='" + running + "']");
        wait(d -> progress(d.findElement(bar)) >= 2);
        int seen = progress(driver.findElement(bar));
        wait(d -> progress(d.findElement(bar)) > seen); // it moves without a reload
        WebElement failedRow = driver.findElement(By.cssSelector("tr[data-job='" + failing + "']"));
        failedRow.findElement(By.cssSelector("button.failures-toggle")).click();
        WebElement traceback = waitFor(By.cssSelector("tr.failures:not([hidden]) pre.traceback"));
        assertThat(traceback.getText()).contains("ValueError: input 1 cannot be priced");
        browser.screenshot("jobs");

        driver.findElement(By.cssSelector("tr[data-job='" + running + "'] button.cancel")).click();
        wait(d -> d.findElement(By.cssSelector("tr[data-job='" + running + "'] [data-state]")).getAttribute("data-state").equals("CANCELLED"));
        JsonNode job = jobs.job(running);
        assertThat(job.path("state").asText()).isEqualTo("CANCELLED");
        assertThat(job.path("counts").path("cancelled").asInt()).isPositive();
    }

    @Test
    @Order(9)
    void chartsShowTheLastHourOfCalls() throws InterruptedException {
        stopTraffic();
        driver.findElement(By.cssSelector("a[data-nav=functions]")).click();
        WebElement greeter = waitFor(By.cssSelector("tr[data-function=greeter]"));
        wait(d -> greeter.findElement(By.cssSelector("td.errors")).getText().matches("[1-9]\\d* \\([1-9]\\d* function, 0 platform\\)"));
        browser.screenshot("functions");
        greeter.findElement(By.cssSelector("a.name")).click();
        waitFor(By.cssSelector("a[data-tab=charts]")).click();
        wait(d -> d.findElement(By.id("chart-totals")).getText().matches("Last hour: [1-9]\\d* calls.*"));
        for (String chart : List.of("calls", "errors", "latency", "cold", "instances")) {
            waitFor(By.cssSelector("#chart-" + chart + " canvas"));
        }
        browser.screenshot("charts");
    }

    @Test
    @Order(9)
    void theCostPageShowsEachFunctionsCallsAndPrices() throws InterruptedException {
        stopTraffic(); // the count on the page and the API's then agree
        driver.findElement(By.cssSelector("a[data-nav=cost]")).click();
        waitFor(By.cssSelector("#cost-periods a[data-since='1d']")).click();
        wait(d -> d.getCurrentUrl().endsWith("#/cost?since=1d"));
        WebElement greeter = waitFor(By.cssSelector("tr.cost-row[data-function=greeter]"));
        long calls = new JobsHttp(gale).send("GET", "/v1/cost?since=1d&function=greeter", null, null).json()
                .path("rows").get(0).path("calls").asLong();
        assertThat(calls).isPositive();
        wait(d -> d.findElement(By.cssSelector("tr.cost-row[data-function=greeter] td.calls")).getText().equals(Long.toString(calls)));
        assertThat(greeter.getText()).contains("$"); // priced on the platforms and the VM
        assertThat(driver.findElement(By.cssSelector("tr.cost-total")).getText()).startsWith("Total");
        assertThat(driver.findElement(By.id("cost-summary")).getText()).startsWith("Gale on this machine:");
        browser.screenshot("cost");
    }

    @Test
    @Order(10)
    void thePagesRanWithoutScriptErrorsAndSigningOutForgetsTheToken() {
        List<String> problems = driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .map(LogEntry::getMessage)
                .filter(m -> !m.contains("status of 401")) // the wrong token of the first step
                .filter(m -> m.contains("Uncaught") || m.contains("Refused") || m.contains("Error") || m.contains("status of"))
                .toList();
        assertThat(problems).isEmpty();

        driver.findElement(By.id("signout")).click();
        wait(d -> d.getCurrentUrl().contains("#/signin"));
        assertThat(browser.script("return sessionStorage.getItem('gale.token')")).isNull();
        driver.get(gale.server.url() + "/#/jobs");
        wait(d -> d.getCurrentUrl().contains("#/signin?then="));
    }

    private static String inputs(int count, double sleep, boolean oddFail) {
        var list = new StringBuilder();
        for (int i = 0; i < count; i++) {
            list.append(i == 0 ? "" : ",").append("{\"x\": ").append(i).append(", \"sleep\": ").append(sleep)
                    .append(oddFail && i % 2 == 1 ? ", \"fail\": true" : "").append('}');
        }
        return "{\"function\": \"pricer\", \"parallelism\": 1, \"inputs\": [" + list + "]}";
    }

    private static int progress(WebElement bar) {
        return Integer.parseInt(bar.getAttribute("aria-valuenow"));
    }

    private static Path zip(String name, String... pathsAndContents) {
        Path file = gale.work.resolve(name + "-" + System.nanoTime() + ".zip");
        try {
            Files.createDirectories(file.getParent());
            try (var out = new ZipOutputStream(Files.newOutputStream(file))) {
                for (int i = 0; i < pathsAndContents.length; i += 2) {
                    out.putNextEntry(new ZipEntry(pathsAndContents[i]));
                    out.write(pathsAndContents[i + 1].getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    out.closeEntry();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    private static void type(By field, String text) {
        waitFor(field).sendKeys(text);
    }

    private static WebElement waitFor(By what) {
        return new WebDriverWait(driver, WAIT).until(d -> {
            List<WebElement> found = d.findElements(what);
            return found.isEmpty() || !found.getFirst().isDisplayed() ? null : found.getFirst();
        });
    }

    private static void wait(java.util.function.Function<WebDriver, Boolean> condition) {
        new WebDriverWait(driver, WAIT).ignoring(org.openqa.selenium.StaleElementReferenceException.class)
                .ignoring(org.openqa.selenium.NoSuchElementException.class).until(condition);
    }
}
