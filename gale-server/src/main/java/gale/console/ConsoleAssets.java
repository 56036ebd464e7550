package gale.console;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * The web console's files: its page at {@code /} and everything it loads under {@code /console/},
 * read from the jar once at start (nothing to build, nothing fetched from the internet) and served
 * gzip-compressed to browsers that take it, with an ETag, so a reload costs a 304 per file. Gale's
 * own files are revalidated on every load, so a new jar shows at once; the vendored libraries sit
 * under a path with their version and are cached for a year.
 *
 * <p>Every answer carries a Content-Security-Policy that lets the page run only this server's own
 * scripts and styles and talk only to this server, and forbids framing it. The console renders
 * what functions print and answer as text, never as markup; the policy is the second line.
 */
public final class ConsoleAssets {

    /** Versions of the vendored libraries: keep in step with gale-server's pom (uPlot's webjar) and the imports in the scripts. */
    static final String UPLOT = "1.6.30";
    static final String FFLATE = "0.8.3";

    static final String OWN = "gale/console/";
    /** Gale's own files, under /console/. */
    static final List<String> FILES = List.of("index.html", "console.css", "favicon.svg", "app.js", "api.js", "dom.js",
            "signin.js", "functions.js", "function.js", "traffic.js", "testing.js", "logs.js", "charts.js", "deploy.js", "jobs.js",
            "cost.js");
    /** Vendored files: the path under /console/ and the resource holding it. */
    static final Map<String, String> VENDORED = vendored();

    static final String POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private record Asset(String contentType, byte[] raw, byte[] gzip, String digest, String cacheControl) {
    }

    private final Map<String, Asset> assets;

    private ConsoleAssets(Map<String, Asset> assets) {
        this.assets = assets;
    }

    private static Map<String, String> vendored() {
        Map<String, String> files = new LinkedHashMap<>();
        String uplot = "META-INF/resources/webjars/uplot/" + UPLOT + "/";
        files.put("vendor/uplot-" + UPLOT + "/uPlot.esm.js", uplot + "dist/uPlot.esm.js");
        files.put("vendor/uplot-" + UPLOT + "/uPlot.min.css", uplot + "dist/uPlot.min.css");
        files.put("vendor/uplot-" + UPLOT + "/LICENSE", uplot + "LICENSE");
        String fflate = OWN + "vendor/fflate-" + FFLATE + "/";
        files.put("vendor/fflate-" + FFLATE + "/browser.js", fflate + "browser.js");
        files.put("vendor/fflate-" + FFLATE + "/LICENSE", fflate + "LICENSE");
        return Map.copyOf(files);
    }

    /** Reads and compresses every file; a missing one is a broken build and fails the start naming it. */
    public static ConsoleAssets load() {
        Map<String, Asset> assets = new LinkedHashMap<>();
        for (String file : FILES) assets.put(file, asset(file, OWN + file, "no-cache"));
        VENDORED.forEach((path, resource) -> assets.put(path, asset(path, resource, "public, max-age=31536000, immutable")));
        return new ConsoleAssets(Map.copyOf(assets));
    }

    public void register(RoutesConfig routes) {
        routes.get("/", ctx -> serve(ctx, assets.get("index.html")));
        routes.get("/favicon.ico", ctx -> serve(ctx, assets.get("favicon.svg"))); // what a browser asks for on any page of the server
        routes.get("/console/<path>", ctx -> {
            Asset asset = assets.get(ctx.pathParam("path"));
            if (asset == null) throw new NotFoundResponse("the console has no file '" + ctx.pathParam("path") + "'");
            serve(ctx, asset);
        });
    }

    private static void serve(Context ctx, Asset asset) {
        String accepts = ctx.header("Accept-Encoding");
        boolean gzip = accepts != null && accepts.contains("gzip");
        String etag = '"' + asset.digest() + (gzip ? "-gz\"" : "\""); // each encoding is its own representation
        ctx.header("Content-Security-Policy", POLICY);
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.header("Cache-Control", asset.cacheControl());
        ctx.header("Vary", "Accept-Encoding");
        ctx.header("ETag", etag);
        String given = ctx.header("If-None-Match");
        if (given != null && given.contains(etag)) {
            ctx.status(304);
            return;
        }
        ctx.contentType(asset.contentType());
        if (gzip) {
            ctx.header("Content-Encoding", "gzip");
            ctx.result(asset.gzip());
        } else {
            ctx.result(asset.raw());
        }
    }

    private static Asset asset(String path, String resource, String cacheControl) {
        byte[] raw;
        try (InputStream in = ConsoleAssets.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("the console's file " + resource + " is not in the jar; rebuild Gale");
            raw = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the console's file " + resource, e);
        }
        return new Asset(contentType(path), raw, gzip(raw), digest(raw), cacheControl);
    }

    static String contentType(String path) {
        if (path.endsWith(".html")) return "text/html; charset=utf-8";
        if (path.endsWith(".js")) return "text/javascript; charset=utf-8";
        if (path.endsWith(".css")) return "text/css; charset=utf-8";
        if (path.endsWith(".svg")) return "image/svg+xml";
        return "text/plain; charset=utf-8";
    }

    private static byte[] gzip(byte[] raw) {
        var out = new ByteArrayOutputStream(raw.length / 3 + 64);
        try (var gz = new GZIPOutputStream(out) {
            {
                def.setLevel(Deflater.BEST_COMPRESSION); // once per file at start
            }
        }) {
            gz.write(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static String digest(byte[] raw) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw), 0, 10);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
