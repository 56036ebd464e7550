package gale.e2e;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;

/**
 * Debian's headless Chromium, driven through Debian's chromedriver. Both paths are given, so Selenium
 * Manager is never asked to find or download a browser or driver (there is no internet here).
 * Without them the browser tests fail under CI=true and are skipped elsewhere, saying what to install
 * (./run-tests installs them: scripts/env.sh's test packages).
 *
 * <p>Screenshots go to target/console-screenshots/, and also to the folder named by
 * {@code GALE_CONSOLE_SCREENSHOTS} when it is set: {@code GALE_CONSOLE_SCREENSHOTS=$PWD/docs/console}
 * refreshes the pictures docs/console.md and the README show.
 */
record ConsoleBrowser(WebDriver driver, ChromeDriverService service) implements AutoCloseable {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    static ConsoleBrowser open() {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            String missing = "the console's browser tests need " + CHROMIUM + " and " + CHROMEDRIVER
                    + ": apt-get install chromium chromium-driver (./run-tests installs them as root)";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) throw new AssertionError(missing);
            Assumptions.abort(missing);
        }
        var service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        var options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        // --no-sandbox: tests run as root, where Chromium's own sandbox cannot start
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--lang=en-US", "--no-first-run", "--disable-extensions");
        var logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability(ChromeOptions.LOGGING_PREFS, logs);
        return new ConsoleBrowser(new ChromeDriver(service, options), service);
    }

    Object script(String javascript) {
        return ((JavascriptExecutor) driver).executeScript(javascript);
    }

    void screenshot(String name) {
        script("window.scrollTo(0, 0)"); // the top of the page, wherever the last click scrolled to
        byte[] png = ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES);
        write(Path.of("target", "console-screenshots"), name, png);
        String docs = System.getenv("GALE_CONSOLE_SCREENSHOTS");
        if (docs != null && !docs.isBlank()) write(Path.of(docs), name, png);
    }

    private static void write(Path dir, String name, byte[] png) {
        try {
            Files.createDirectories(dir);
            Files.write(dir.resolve(name + ".png"), png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } finally {
            service.stop();
        }
    }
}
