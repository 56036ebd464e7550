package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;

/** The /v1/jobs API (and any other) spoken over plain HTTP, as docs/jobs.md describes it. */
final class JobsHttp {

    static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private final GaleHarness gale;
    private final String token; // null: the admin token

    JobsHttp(GaleHarness gale) {
        this(gale, null);
    }

    private JobsHttp(GaleHarness gale, String token) {
        this.gale = gale;
        this.token = token;
    }

    /** The same API spoken with another credential (an access key), or none when {@code token} is empty. */
    JobsHttp as(String token) {
        return new JobsHttp(gale, token);
    }

    record Answer(int status, JsonNode json, String text, HttpHeaders headers) {
    }

    Answer send(String method, String path, String contentType, String body) {
        return send(method, path, contentType, body, java.util.Map.of());
    }

    /** Any path, /fn/ calls too, with extra headers. */
    Answer send(String method, String path, String contentType, String body, java.util.Map<String, String> headers) {
        var builder = HttpRequest.newBuilder(URI.create(gale.server.url() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        String credential = token == null ? gale.server.adminToken() : token;
        if (!credential.isEmpty()) builder.header("Authorization", "Bearer " + credential);
        if (contentType != null) builder.header("Content-Type", contentType);
        headers.forEach(builder::header);
        try {
            HttpResponse<String> r = http.send(builder.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = null;
            try {
                json = JSON.readTree(r.body());
            } catch (IOException notJson) {
                // NDJSON or text
            }
            return new Answer(r.statusCode(), json, r.body(), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    JsonNode submit(String jobJson) {
        Answer a = send("POST", "/v1/jobs", "application/json", jobJson);
        if (a.status() != 201) throw new AssertionError("submit answered " + a.status() + ": " + a.text());
        return a.json();
    }

    JsonNode job(String id) {
        return send("GET", "/v1/jobs/" + id, null, null).json();
    }

    JsonNode awaitEnd(String id) {
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100))
                .until(() -> !job(id).path("state").asText().matches("QUEUED|RUNNING"));
        return job(id);
    }

    List<JsonNode> results(String id, boolean wait) {
        return ndjson(send("GET", "/v1/jobs/" + id + "/results" + (wait ? "?wait=true" : ""), null, null).text());
    }

    /** POST /v1/jobs?wait=true: the job, then its results, as the lines of one answer. */
    List<JsonNode> submitAndWait(String jobJson) {
        Answer a = send("POST", "/v1/jobs?wait=true", "application/json", jobJson);
        if (a.status() != 201) throw new AssertionError("submit answered " + a.status() + ": " + a.text());
        return ndjson(a.text());
    }

    static List<JsonNode> ndjson(String text) {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) continue;
            try {
                lines.add(JSON.readTree(line));
            } catch (IOException e) {
                throw new AssertionError("not a JSON line: " + line);
            }
        }
        return lines;
    }
}
