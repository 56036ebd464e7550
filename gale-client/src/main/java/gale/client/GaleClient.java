package gale.client;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A client for a Gale server: the admin API under {@code /v1} (see docs/api.md) and calls to
 * deployed functions under {@code /fn/}. Thread-safe; close it to release its HTTP connections.
 *
 * <p>Admin methods throw {@link GaleApiException} when the server answers with an error status and
 * {@link GaleUnreachableException} when it does not answer. {@link #call} returns a function's error
 * statuses like any other response. Redirects are never followed.
 */
public final class GaleClient implements AutoCloseable {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Admin calls are small and answered from the store. */
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
    /** Long enough to upload a bundle holding a model over a slow link. */
    private static final Duration UPLOAD_TIMEOUT = Duration.ofMinutes(10);
    /** The server enforces each function's own timeout (504); this only guards against a hung connection. */
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(15);
    /**
     * The server sends a results stream's headers with its first line, which comes when the first input
     * is done; past this the stream is opened again, after checking the job is still there.
     */
    private static final Duration FIRST_RESULT_WAIT = Duration.ofMinutes(2);
    private static final Duration FIRST_POLL = Duration.ofMillis(100);
    private static final Duration LONGEST_POLL = Duration.ofSeconds(1);

    private final URI baseUrl;
    private final String token;
    private final HttpClient http;

    /**
     * @param baseUrl the server, e.g. {@code http://127.0.0.1:8080}
     * @param token   the admin token ({@code <data-dir>/admin-token}), or an access key ({@code gale keys create}),
     *                which may do what its scopes allow (docs/access.md)
     */
    public GaleClient(URI baseUrl, String token) {
        if (!("http".equals(baseUrl.getScheme()) || "https".equals(baseUrl.getScheme())) || baseUrl.getHost() == null) {
            throw new IllegalArgumentException("a Gale URL looks like http://127.0.0.1:8080, got '" + baseUrl + "'");
        }
        if (token.isBlank()) throw new IllegalArgumentException("the token is empty: set GALE_TOKEN to the admin token or an access key");
        this.baseUrl = URI.create(baseUrl.toString().replaceAll("/+$", ""));
        this.token = token.strip();
        this.http = HttpClient.newBuilder()
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1) // skip the h2c upgrade dance; the server speaks HTTP/1.1
                .build();
    }

    /** Connects as {@link #fromEnvironment(Map)} does with the process environment. */
    public static GaleClient fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * The URL comes from GALE_URL, the token from GALE_TOKEN; each one that is unset is read from the
     * data dir a local {@code gale server} wrote ({@link GaleHome}: $GALE_HOME, else ./.gale).
     *
     * @throws NoGaleServerException when neither place has them
     */
    public static GaleClient fromEnvironment(Map<String, String> env) {
        GaleHome home = GaleHome.resolve(env);
        Optional<URI> url = nonBlank(env.get("GALE_URL")).map(GaleClient::parseUrl).or(home::serverUrl);
        if (url.isEmpty()) {
            throw new NoGaleServerException("no Gale server found: set GALE_URL and GALE_TOKEN, or run `gale server`"
                    + " (looked in " + home.dir() + ")");
        }
        Optional<String> token = nonBlank(env.get("GALE_TOKEN")).or(home::adminToken);
        if (token.isEmpty()) {
            throw new NoGaleServerException("no admin token for " + url.get() + ": set GALE_TOKEN, or run `gale server`"
                    + " (looked in " + home.adminTokenFile() + ")");
        }
        return new GaleClient(url.get(), token.get());
    }

    public URI baseUrl() {
        return baseUrl;
    }

    /**
     * Uploads a new version. It starts DEPLOYING; see {@link #awaitVersion}.
     *
     * @param source a folder (zipped without .git, __pycache__, *.pyc, .gale, .venv, venv, node_modules) or a .zip
     * @param config only the settings the user chose (docs/api.md keys); gale.toml and defaults fill the rest
     */
    public Version deploy(String name, Path source, Map<String, Object> config) {
        try (SourceBundle bundle = SourceBundle.of(source)) {
            MultipartBody body = new MultipartBody()
                    .add("config", "application/json", ApiJson.write(config))
                    .addFile("bundle", "bundle.zip", "application/zip", bundle.zip());
            HttpRequest request = admin(functionPath(name) + "/versions", UPLOAD_TIMEOUT)
                    .header("Content-Type", body.contentType())
                    // the server may refuse before the body (too large, a bad name, a full disk): with
                    // 100-continue its answer arrives instead of a reset connection under a body still being sent
                    .expectContinue(true)
                    .POST(body.publisher())
                    .build();
            return read(request, Version::fromJson);
        }
    }

    /**
     * Polls a version until it settles (ACTIVE or FAILED, or INACTIVE when a newer deploy already
     * replaced it), backing off from 100 ms to 1 s. Returns it as last seen when {@code timeout} passes first.
     */
    public Version awaitVersion(String name, int version, Duration timeout) {
        return poll(() -> version(name, version), current -> current.state().isSettled(), timeout,
                "waiting for " + name + " version " + version);
    }

    public List<FunctionSummary> functions() {
        return get("/v1/functions", json -> ApiJson.items(json, FunctionSummary::fromJson));
    }

    /** One function, with its versions newest first. */
    public FunctionSummary function(String name) {
        return get(functionPath(name), FunctionSummary::fromJson);
    }

    /** One function exactly as the server sent it, for tools that show the raw JSON. */
    public String functionJson(String name) {
        HttpResponse<byte[]> response = send(admin(functionPath(name), ADMIN_TIMEOUT).GET().build());
        if (!isSuccess(response)) throw apiError(response);
        return new String(response.body(), UTF_8);
    }

    /** Newest first. */
    public List<Version> versions(String name) {
        return get(functionPath(name) + "/versions", json -> ApiJson.items(json, Version::fromJson));
    }

    public Version version(String name, int version) {
        return get(functionPath(name) + "/versions/" + version, Version::fromJson);
    }

    /** Makes {@code version} ACTIVE again, or when empty the ACTIVE version before the current one. */
    public FunctionSummary rollback(String name, OptionalInt version) {
        Map<String, Object> body = version.isPresent() ? Map.of("version", version.getAsInt()) : Map.of();
        HttpRequest request = admin(functionPath(name) + "/rollback", ADMIN_TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(BodyPublishers.ofByteArray(ApiJson.write(body)))
                .build();
        return read(request, FunctionSummary::fromJson);
    }

    /**
     * The function's traffic (docs/traffic.md): {@code to} (version to percent), {@code pinned}, {@code tags} and
     * {@code tagUrls}, and {@code versions}, each with its {@code percent}, {@code tags}, {@code url} and
     * {@code lastHour} calls and errors.
     */
    public JsonNode traffic(String name) {
        return get(functionPath(name) + "/traffic", json -> json);
    }

    /**
     * Changes the function's traffic; answers as {@link #traffic}.
     *
     * @param change {@code to} (version to percent, like {@code {"3": 90, "4": 10}}) or {@code toLatest: true}, and/or
     *               {@code tags} (tag to version; replaces the function's tags)
     */
    public JsonNode setTraffic(String name, Map<String, Object> change) {
        return read(admin(functionPath(name) + "/traffic", ADMIN_TIMEOUT).header("Content-Type", "application/json")
                .PUT(BodyPublishers.ofByteArray(ApiJson.write(change))).build(), json -> json);
    }

    /** Stops the function's instances and deletes it with all its versions and bundles. */
    public void delete(String name) {
        HttpResponse<byte[]> response = send(admin(functionPath(name), ADMIN_TIMEOUT).DELETE().build());
        if (!isSuccess(response)) throw apiError(response);
    }

    /**
     * Log entries with {@code seq > after}, oldest first, at most {@code limit}. With {@code waitSeconds > 0}
     * the server holds the call up to that long until there is a new entry (long poll).
     */
    public LogPage logs(String name, long after, int limit, int waitSeconds) {
        String query = "?after=" + after + "&limit=" + limit + (waitSeconds > 0 ? "&wait=" + waitSeconds : "");
        HttpRequest request = admin(functionPath(name) + "/logs" + query, ADMIN_TIMEOUT.plusSeconds(waitSeconds))
                .GET()
                .build();
        return read(request, json -> logPage(json, after));
    }

    /** The latest {@code limit} log entries, oldest first; follow on with {@code logs(name, page.next(), ...)}. */
    public LogPage latestLogs(String name, int limit) {
        return get(functionPath(name) + "/logs?limit=" + limit, json -> logPage(json, 0));
    }

    /** The latest invocation records, newest first. */
    public List<Invocation> invocations(String name, int limit) {
        return get(functionPath(name) + "/invocations?limit=" + limit,
                json -> ApiJson.items(json, Invocation::fromJson));
    }

    public Invocation invocation(String requestId) {
        return get("/v1/invocations/" + segment(requestId), Invocation::fromJson);
    }

    /**
     * An async call (docs/async.md) as the API shows it: {@code invocationId}, {@code status} (QUEUED, RUNNING,
     * SUCCEEDED, DEAD), {@code attempts}, {@code result} ({@code status}, {@code headers}, {@code body},
     * {@code bodyEncoding}), {@code error}, {@code traceback}.
     */
    public JsonNode asyncInvocation(String invocationId) {
        return get("/v1/invocations/" + segment(invocationId), json -> json);
    }

    /** The function's dead letters, newest first, each with its input ({@code request.body}), error and traceback. */
    public JsonNode deadLetters(String name, int limit) {
        return get(functionPath(name) + "/dead-letters?limit=" + limit, json -> json);
    }

    /** Queues the function's dead letters again: all when {@code ids} is empty. Answers {@code {"redriven": N, "ids": [...]}}. */
    public JsonNode redriveDeadLetters(String name, List<String> ids) {
        byte[] body = ids.isEmpty() ? new byte[0] : ApiJson.write(Map.of("ids", ids));
        return read(admin(functionPath(name) + "/dead-letters:redrive", ADMIN_TIMEOUT).header("Content-Type", "application/json")
                .POST(BodyPublishers.ofByteArray(body)).build(), json -> json);
    }

    /** Deletes the function's dead letters. Answers {@code {"purged": N}}. */
    public JsonNode purgeDeadLetters(String name) {
        return read(admin(functionPath(name) + "/dead-letters", ADMIN_TIMEOUT).DELETE().build(), json -> json);
    }

    /**
     * The function's triggers (docs/triggers.md), each with {@code id}, {@code source}, {@code events} and its events'
     * counts: {@code pending}, {@code delivered}, {@code dead}.
     */
    public JsonNode triggers(String name) {
        return get(functionPath(name) + "/triggers", json -> json);
    }

    /** Subscribes the function to {@code source} ({@code state:NS/PREFIX} or {@code blob:BUCKET/PREFIX}); no events: all kinds. */
    public JsonNode addTrigger(String name, String source, List<String> events) {
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("source", source);
        if (!events.isEmpty()) body.put("events", events);
        return read(admin(functionPath(name) + "/triggers", ADMIN_TIMEOUT).header("Content-Type", "application/json")
                .POST(BodyPublishers.ofByteArray(ApiJson.write(body))).build(), json -> json);
    }

    public void deleteTrigger(String name, String id) {
        HttpResponse<byte[]> response = send(admin(functionPath(name) + "/triggers/" + segment(id), ADMIN_TIMEOUT).DELETE().build());
        if (!isSuccess(response)) throw apiError(response);
    }

    /** Every schedule by name, or only those of {@code function}. */
    public List<Schedule> schedules(Optional<String> function) {
        String query = function.map(name -> "?function=" + URLEncoder.encode(name, UTF_8)).orElse("");
        return get("/v1/schedules" + query, json -> ApiJson.items(json, Schedule::fromJson));
    }

    public Schedule schedule(String name) {
        return get(schedulePath(name), Schedule::fromJson);
    }

    /**
     * Creates a schedule or replaces the one of that name (docs/schedules.md).
     *
     * @param settings {@code function}, and {@code cron} (with an optional {@code timeZone}) or {@code every};
     *                 optionally {@code catchUp} and {@code payload}
     */
    public Schedule putSchedule(String name, Map<String, Object> settings) {
        HttpRequest request = admin(schedulePath(name), ADMIN_TIMEOUT)
                .header("Content-Type", "application/json")
                .PUT(BodyPublishers.ofByteArray(ApiJson.write(settings)))
                .build();
        return read(request, Schedule::fromJson);
    }

    public Schedule pauseSchedule(String name) {
        return read(admin(schedulePath(name) + "/pause", ADMIN_TIMEOUT).POST(BodyPublishers.noBody()).build(), Schedule::fromJson);
    }

    public Schedule resumeSchedule(String name) {
        return read(admin(schedulePath(name) + "/resume", ADMIN_TIMEOUT).POST(BodyPublishers.noBody()).build(), Schedule::fromJson);
    }

    public void deleteSchedule(String name) {
        HttpResponse<byte[]> response = send(admin(schedulePath(name), ADMIN_TIMEOUT).DELETE().build());
        if (!isSuccess(response)) throw apiError(response);
    }

    /** The schedule's latest fired slots, newest first. */
    public List<Schedule.Firing> firings(String name, int limit) {
        return get(schedulePath(name) + "/firings?limit=" + limit, json -> ApiJson.items(json, Schedule.Firing::fromJson));
    }

    /** Submits a map job (docs/jobs.md). Answers once the inputs are stored; the job starts right away. */
    public Job submitJob(JobRequest job) {
        HttpRequest request = admin(job.pathAndQuery(), UPLOAD_TIMEOUT)
                .header("Content-Type", job.contentType())
                .POST(job.body())
                .build();
        return read(request, Job::fromJson);
    }

    public Job job(String id) {
        return get(jobPath(id), Job::fromJson);
    }

    /**
     * Polls a job until it has ended, backing off from 100 ms to 1 s. Returns it as last seen when
     * {@code timeout} passes first.
     */
    public Job awaitJob(String id, Duration timeout) {
        return poll(() -> job(id), current -> current.state().isFinished(), timeout, "waiting for job " + id);
    }

    /** The latest jobs, newest first; only those of {@code function} when given. */
    public List<Job> jobs(Optional<String> function, int limit) {
        String query = "?limit=" + limit + function.map(name -> "&function=" + URLEncoder.encode(name, UTF_8)).orElse("");
        return get("/v1/jobs" + query, json -> ApiJson.items(json, Job::fromJson));
    }

    /**
     * Cancels a job: queued inputs never start, running calls are abandoned. Answers the job, CANCELLED,
     * or as it was when it had already ended.
     */
    /** Runs a finished job's failed inputs again, into the same job (409 while it runs or when none failed). */
    public Job redriveJob(String id) {
        return read(admin(jobPath(id) + "/redrive", ADMIN_TIMEOUT).POST(BodyPublishers.noBody()).build(), Job::fromJson);
    }

    public Job cancelJob(String id) {
        return read(admin(jobPath(id), ADMIN_TIMEOUT).DELETE().build(), Job::fromJson);
    }

    /**
     * The cost report (docs/cost.md): what functions (one, or all) used since {@code since} ({@code 30d}, {@code 2025-06-01}),
     * or what map job {@code job} used, priced on each platform of the server's price table with {@code prices} (the
     * keys of a prices file, as JSON) laid over it when given.
     */
    public JsonNode cost(Optional<String> function, Optional<String> since, Optional<String> job, Optional<JsonNode> prices) {
        StringBuilder query = new StringBuilder();
        function.ifPresent(name -> query.append("&function=").append(URLEncoder.encode(name, UTF_8)));
        since.ifPresent(period -> query.append("&since=").append(URLEncoder.encode(period, UTF_8)));
        job.ifPresent(id -> query.append("&job=").append(URLEncoder.encode(id, UTF_8)));
        String path = "/v1/cost" + (query.isEmpty() ? "" : "?" + query.substring(1));
        HttpRequest request = prices.isEmpty() ? admin(path, ADMIN_TIMEOUT).GET().build()
                : admin(path, ADMIN_TIMEOUT).header("Content-Type", "application/json").POST(BodyPublishers.ofString(prices.get().toString())).build();
        HttpResponse<byte[]> response = send(request);
        if (!isSuccess(response)) throw apiError(response);
        try {
            return ApiJson.parseExact(response.body()); // prices as written, not as doubles
        } catch (IOException e) {
            throw new GaleApiException(response.statusCode(), "unexpected answer to " + describe(request) + ": " + e.getMessage());
        }
    }

    /** A state key with its value; empty when it does not exist (or has expired). */
    public Optional<StateEntry> stateGet(String namespace, String key) {
        HttpRequest request = admin(statePath(namespace, key), ADMIN_TIMEOUT).GET().build();
        HttpResponse<byte[]> response = send(request);
        if (response.statusCode() == 404) return Optional.empty();
        return Optional.of(answer(request, response, StateEntry::fromJson));
    }

    /**
     * Stores a JSON value (as text); with {@code ifVersion}, only if the key is at that version (0: only if
     * absent), else a {@link GaleApiException} with status 412. Answers the key without its value.
     */
    public StateEntry statePut(String namespace, String key, String valueJson, Optional<Duration> ttl, OptionalLong ifVersion) {
        String query = ttl.map(t -> "?ttl=" + t.toMillis() + "ms").orElse("");
        HttpRequest.Builder request = admin(statePath(namespace, key) + query, ADMIN_TIMEOUT)
                .header("Content-Type", "application/json")
                .PUT(BodyPublishers.ofString(valueJson));
        if (ifVersion.isPresent()) {
            if (ifVersion.getAsLong() == 0) request.header("If-None-Match", "*");
            else request.header("If-Match", "\"" + ifVersion.getAsLong() + "\"");
        }
        return read(request.build(), StateEntry::fromJson);
    }

    /** Deletes a state key; false when there was none. */
    public boolean stateDelete(String namespace, String key) {
        HttpResponse<byte[]> response = send(admin(statePath(namespace, key), ADMIN_TIMEOUT).DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    /** Adds {@code by} to a whole number atomically (from 0 when absent); answers the key with its new value. */
    public StateEntry stateIncrement(String namespace, String key, long by) {
        return read(admin(statePath(namespace, key) + "?op=increment", ADMIN_TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(BodyPublishers.ofString("{\"by\":" + by + "}")).build(), StateEntry::fromJson);
    }

    /** One page of the keys that start with {@code prefix}, in key order; the next page starts after its last key. */
    public StatePage stateList(String namespace, String prefix, Optional<String> after, int limit) {
        String query = "?limit=" + limit + "&prefix=" + segment(prefix) + after.map(a -> "&after=" + segment(a)).orElse("");
        return get(statePath(namespace, null) + query, json -> new StatePage(ApiJson.list(json, "entries", StateEntry::fromJson),
                ApiJson.optionalText(json, "next")));
    }

    /**
     * Creates a sampler (docs/state.md#samplers) from a JSON array of items (ids, or objects with an "id"); answers
     * its settings as the server wrote them.
     */
    public JsonNode samplerCreate(String name, String itemsJson, int target, Optional<Duration> lease) {
        String body = "{\"items\":" + itemsJson + ",\"target\":" + target + lease.map(l -> ",\"lease\":\"" + l.toMillis() + "ms\"").orElse("") + "}";
        return samplerPost(name, "", body);
    }

    /** Draws up to {@code k} items the respondent has not seen: {"respondent", "items": [{"id", "item"}], "leaseExpiresAt"}. */
    public JsonNode samplerDraw(String name, String respondent, int k) {
        return samplerPost(name, "/draw", "{\"respondent\":" + ApiJson.MAPPER.valueToTree(respondent) + ",\"k\":" + k + "}");
    }

    /** Confirms ({@code action} "confirm") or releases ("release") the respondent's items (all it holds when empty). */
    public JsonNode samplerSettle(String name, String action, String respondent, List<String> items) {
        var body = ApiJson.MAPPER.createObjectNode().put("respondent", respondent);
        if (!items.isEmpty()) items.forEach(body.putArray("items")::add);
        return samplerPost(name, "/" + action, body.toString());
    }

    /** Counts: {"target", "items", "confirmed", "leased", "full", "respondents", "remaining", "counts": [...]}. */
    public JsonNode samplerStats(String name) {
        return get("/v1/samplers/" + segment(name), json -> json);
    }

    /** Deletes a sampler with its counts; false when there was none. */
    public boolean samplerDelete(String name) {
        HttpResponse<byte[]> response = send(admin("/v1/samplers/" + segment(name), ADMIN_TIMEOUT).DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    // ---- secrets (docs/secrets.md): values go in, never out

    /** Stores a new value of a secret; answers {"name", "version", "note"}. */
    public JsonNode secretSet(String name, byte[] value) {
        return read(admin("/v1/secrets/" + segment(name), ADMIN_TIMEOUT).header("Content-Type", "application/octet-stream")
                .PUT(BodyPublishers.ofByteArray(value)).build(), json -> json);
    }

    /** Every secret's name, version, size and grants (never a value). */
    public JsonNode secrets() {
        return get("/v1/secrets", json -> json);
    }

    /** Deletes a secret and its grants; false when there was none. */
    public boolean secretDelete(String name) {
        HttpResponse<byte[]> response = send(admin("/v1/secrets/" + segment(name), ADMIN_TIMEOUT).DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    /** Function {@code function}'s instances started from now on get secret {@code name} as variable {@code env}. */
    public JsonNode secretGrant(String name, String function, String env) {
        return read(admin("/v1/functions/" + segment(function) + "/secrets/" + segment(env), ADMIN_TIMEOUT)
                .header("Content-Type", "application/json")
                .PUT(BodyPublishers.ofByteArray(ApiJson.write(Map.of("secret", name)))).build(), json -> json);
    }

    /** Function {@code function}'s instances started from now on find secret {@code name} in $GALE_SECRETS_DIR/{@code file}. */
    public JsonNode secretGrantFile(String name, String function, String file) {
        return read(admin("/v1/functions/" + segment(function) + "/secret-files", ADMIN_TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(BodyPublishers.ofByteArray(ApiJson.write(Map.of("secret", name, "file", file)))).build(), json -> json);
    }

    /** Takes secret file {@code file} away from the function's future instances; false when it had none. */
    public boolean secretRevokeFile(String function, String file) {
        HttpResponse<byte[]> response = send(admin("/v1/functions/" + segment(function) + "/secret-files/" + segment(file), ADMIN_TIMEOUT)
                .DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    /** Takes variable {@code env} away from the function's future instances; false when it had none. */
    public boolean secretRevoke(String function, String env) {
        HttpResponse<byte[]> response = send(admin("/v1/functions/" + segment(function) + "/secrets/" + segment(env), ADMIN_TIMEOUT)
                .DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    // ---- access keys and the audit log (docs/access.md)

    /**
     * Creates an access key; the answer's {@code secret} is the key itself, shown this once.
     *
     * @param settings {@code name}, {@code scopes} (a list), and optionally {@code rate}, {@code burst},
     *                 {@code expiresIn} or {@code expiresAt}
     */
    public JsonNode keyCreate(Map<String, Object> settings) {
        return read(admin("/v1/keys", ADMIN_TIMEOUT).header("Content-Type", "application/json")
                .POST(BodyPublishers.ofByteArray(ApiJson.write(settings))).build(), json -> json);
    }

    /** Keys by name (never the keys themselves), revoked ones too when {@code all}. */
    public JsonNode keys(boolean all) {
        return get("/v1/keys" + (all ? "?all=true" : ""), json -> json);
    }

    /** Revokes the live key with this name or id; false when there is none. */
    public boolean keyRevoke(String nameOrId) {
        HttpResponse<byte[]> response = send(admin("/v1/keys/" + segment(nameOrId), ADMIN_TIMEOUT).DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    /**
     * Audit log entries, newest first.
     *
     * @param since    {@code 1d}, {@code 12h}, or a date or time; empty for all
     * @param function entries about this function only
     */
    public JsonNode audit(Optional<String> since, Optional<String> function, int limit) {
        StringBuilder query = new StringBuilder("?limit=").append(limit);
        since.ifPresent(s -> query.append("&since=").append(URLEncoder.encode(s, UTF_8)));
        function.ifPresent(f -> query.append("&function=").append(URLEncoder.encode(f, UTF_8)));
        return get("/v1/audit" + query, json -> json);
    }

    /** The nodes sharing the server's store (docs/postgresql.md): {"nodes": [{"id", "url", "state", "heartbeatAgoMs", ...}]}. */
    public JsonNode nodes() {
        return get("/v1/nodes", json -> json);
    }

    private JsonNode samplerPost(String name, String action, String body) {
        return read(admin("/v1/samplers/" + segment(name) + action, ADMIN_TIMEOUT).header("Content-Type", "application/json")
                .POST(BodyPublishers.ofString(body)).build(), json -> json);
    }

    /** Streams a file into BUCKET/KEY as its next version (docs/blobs.md): {"version", "digest", "bytes", "created", ...}. */
    public JsonNode blobPut(String bucket, String key, Path file, Optional<String> contentType) {
        try {
            return read(admin(blobPath(bucket, key, Optional.empty(), ""), UPLOAD_TIMEOUT)
                    .header("Content-Type", contentType.orElse("application/octet-stream"))
                    .PUT(BodyPublishers.ofFile(file)).build(), json -> json);
        } catch (java.io.FileNotFoundException e) {
            throw new IllegalArgumentException("no file " + file + " to put", e);
        }
    }

    /**
     * Streams the bytes of BUCKET/KEY (the latest, {@code version}, or what {@code alias} names now) into {@code out};
     * answers the version written.
     */
    public int blobGet(String bucket, String key, Optional<String> alias, OptionalInt version, java.io.OutputStream out) {
        String query = version.isPresent() ? "?version=" + version.getAsInt() : "";
        HttpRequest request = admin(blobPath(bucket, key, alias, "") + query, UPLOAD_TIMEOUT).header("Accept", "*/*").GET().build();
        try {
            HttpResponse<InputStream> response = http.send(request, BodyHandlers.ofInputStream());
            try (InputStream in = response.body()) {
                if (!isSuccess(response)) throw apiError(response.statusCode(), in.readAllBytes());
                in.transferTo(out);
            }
            return Integer.parseInt(response.headers().firstValue("X-Gale-Blob-Version").orElse("0"));
        } catch (IOException e) {
            throw unreachable(request, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted during " + describe(request));
        }
    }

    /** The latest version of each key of a bucket that starts with {@code prefix}: {"keys": [...], "next"}. */
    public JsonNode blobList(String bucket, String prefix, Optional<String> after, int limit) {
        String query = "?limit=" + limit + "&prefix=" + segment(prefix) + after.map(a -> "&after=" + segment(a)).orElse("");
        return get("/v1/blobs/" + segment(bucket) + query, json -> json);
    }

    /** Every version of a key, newest first: {"versions": [...]}. */
    public JsonNode blobVersions(String bucket, String key) {
        return get(blobPath(bucket, key, Optional.empty(), ":versions"), json -> json);
    }

    /** Every alias of a key with its targets and per-version calls: {"aliases": [...]}. */
    public JsonNode blobAliases(String bucket, String key) {
        return get(blobPath(bucket, key, Optional.empty(), ":aliases"), json -> json);
    }

    /** Points an alias at one version ({"version": 7}) or splits it ({"split": {"7": 90, "8": 10}}); answers the alias. */
    public JsonNode blobAlias(String bucket, String key, String alias, String bodyJson) {
        return read(admin(blobPath(bucket, key, Optional.empty(), ":aliases/" + segment(alias)), ADMIN_TIMEOUT)
                .header("Content-Type", "application/json").PUT(BodyPublishers.ofString(bodyJson)).build(), json -> json);
    }

    /** Deletes a key, one version of it, or (with {@code alias}) an alias; false when there was none. */
    public boolean blobDelete(String bucket, String key, OptionalInt version, Optional<String> alias) {
        String path = alias.isPresent() ? blobPath(bucket, key, Optional.empty(), ":aliases/" + segment(alias.get()))
                : blobPath(bucket, key, Optional.empty(), "") + (version.isPresent() ? "?version=" + version.getAsInt() : "");
        HttpResponse<byte[]> response = send(admin(path, ADMIN_TIMEOUT).DELETE().build());
        if (response.statusCode() == 404) return false;
        if (!isSuccess(response)) throw apiError(response);
        return true;
    }

    /** /v1/blobs/BUCKET/KEY[@ALIAS][ACTION]: a key's slashes stay slashes, the rest is escaped. */
    private static String blobPath(String bucket, String key, Optional<String> alias, String action) {
        String path = statePath(bucket, key).replaceFirst("^/v1/state/", "/v1/blobs/");
        return path + alias.map(a -> "@" + segment(a)).orElse("") + action;
    }

    /** A page of {@link #stateList}; {@code next} is the key to list after, when there are more. */
    public record StatePage(List<StateEntry> entries, Optional<String> next) {
    }

    /**
     * The job's results in input order, from index {@code after + 1} ({@code -1} for all), each as soon as
     * it and every result before it are done. The stream ends when the job has ended and its last result
     * was read; it holds a connection, so close it (try-with-resources). A failed input is a result with
     * {@code ok == false}; {@link GaleException}s are thrown from the stream's terminal operation.
     */
    public Stream<JobResult> results(String id, int after) {
        JobResultReader reader = new JobResultReader(this, id, after);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(reader, Spliterator.ORDERED | Spliterator.NONNULL),
                false).onClose(reader::close);
    }

    /**
     * Maps {@code function} over {@code inputs} as a job and completes with one result per input, in input
     * order; failed inputs are results with {@code ok == false}, not a failed future. Cancelling the future
     * cancels the job. Fails with {@link GaleException} when the job cannot be submitted or followed.
     *
     * @param inputs anything Jackson can write as JSON
     */
    public CompletableFuture<List<JobResult>> map(String function, List<?> inputs, JobOptions options) {
        return JobMap.start(this, new JobRequest(function, JobInputs.of(inputs), options));
    }

    /**
     * Calls {@code function} once with {@code input} as its JSON body and completes with its JSON answer
     * (a text answer as a JSON string). An error status fails the future with {@link GaleApiException}.
     */
    public CompletableFuture<JsonNode> invokeAsync(String function, Object input) {
        return callAsync(function, "POST", "", ApiJson.write(input), Map.of("Content-Type", "application/json"))
                .thenApply(response -> functionAnswer(function, response));
    }

    /**
     * Opens one results stream; empty when the server sent nothing within {@link #FIRST_RESULT_WAIT}.
     * The caller closes the body.
     */
    Optional<InputStream> openResults(String id, int after) {
        HttpRequest request = admin(jobPath(id) + "/results?after=" + after + "&wait=true", FIRST_RESULT_WAIT)
                .setHeader("Accept", JobRequest.NDJSON)
                .GET()
                .build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(request, BodyHandlers.ofInputStream());
        } catch (HttpConnectTimeoutException e) {
            throw unreachable(request, e);
        } catch (HttpTimeoutException quiet) {
            return Optional.empty();
        } catch (IOException e) {
            throw unreachable(request, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted during " + describe(request));
        }
        if (isSuccess(response)) return Optional.of(response.body());
        try (InputStream body = response.body()) {
            throw apiError(response.statusCode(), body.readAllBytes());
        } catch (IOException e) {
            throw unreachable(request, e);
        }
    }

    /**
     * Calls a function and returns its response whatever the status. The admin token is sent unless
     * {@code headers} carry their own Authorization.
     *
     * @param pathAndQuery appended to {@code /fn/NAME}: "" or "/sub/path?k=v" or "?k=v"
     * @param body         empty for none
     */
    public HttpResponse<byte[]> call(String name, String method, String pathAndQuery, byte[] body,
                                     Map<String, String> headers) {
        HttpRequest request = callRequest(name, method, pathAndQuery, body, headers);
        long giveUp = System.nanoTime() + STARTING_WAIT.toNanos();
        HttpResponse<byte[]> response = send(request);
        while (isStarting(response) && System.nanoTime() < giveUp) { // Gale restores the function after a restart
            try {
                Thread.sleep(Duration.ofSeconds(response.headers().firstValueAsLong("Retry-After").orElse(1)).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return response;
            }
            response = send(request);
        }
        return response;
    }

    /** 503 from Gale itself with Retry-After: the function is starting after a restart (the call never ran). */
    private static boolean isStarting(HttpResponse<byte[]> response) {
        return response.statusCode() == 503 && response.headers().firstValue("Retry-After").isPresent()
                && response.headers().firstValue("X-Gale-Error").orElse("").equals("platform");
    }

    /** {@link #call}, without blocking; fails with {@link GaleUnreachableException} when there is no answer. */
    public CompletableFuture<HttpResponse<byte[]>> callAsync(String name, String method, String pathAndQuery,
                                                             byte[] body, Map<String, String> headers) {
        HttpRequest request = callRequest(name, method, pathAndQuery, body, headers);
        return http.sendAsync(request, BodyHandlers.ofByteArray()).handle((response, failure) -> {
            if (failure == null) return response;
            Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
            if (cause instanceof IOException io) throw unreachable(request, io);
            throw new CompletionException(cause);
        });
    }

    @Override
    public void close() {
        http.close();
    }

    /** Bodies above this ask the server before they are sent (Expect: 100-continue), as curl's do. */
    private static final int LARGE_BODY = 1 << 20;

    /** How long {@link #call} retries while Gale answers that the function is starting. */
    private static final Duration STARTING_WAIT = Duration.ofSeconds(30);

    private HttpRequest callRequest(String name, String method, String pathAndQuery, byte[] body,
                                    Map<String, String> headers) {
        String suffix = pathAndQuery.isEmpty() || pathAndQuery.startsWith("/") || pathAndQuery.startsWith("?")
                ? pathAndQuery : "/" + pathAndQuery;
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl + "/fn/" + segment(name) + suffix))
                .timeout(CALL_TIMEOUT)
                .method(method, body.length == 0 ? BodyPublishers.noBody() : BodyPublishers.ofByteArray(body))
                .expectContinue(body.length > LARGE_BODY); // as curl does: a 413 is read, not lost under the upload
        headers.forEach(builder::header);
        if (headers.keySet().stream().noneMatch("Authorization"::equalsIgnoreCase)) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder.build();
    }

    private HttpRequest.Builder admin(String path, Duration timeout) {
        return HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json");
    }

    private <T> T get(String path, Function<JsonNode, T> reader) {
        return read(admin(path, ADMIN_TIMEOUT).GET().build(), reader);
    }

    private <T> T read(HttpRequest request, Function<JsonNode, T> reader) {
        return answer(request, send(request), reader);
    }

    private <T> T answer(HttpRequest request, HttpResponse<byte[]> response, Function<JsonNode, T> reader) {
        if (!isSuccess(response)) throw apiError(response);
        try {
            return reader.apply(ApiJson.parse(response.body()));
        } catch (IOException | IllegalStateException | IllegalArgumentException | DateTimeException e) {
            throw new GaleApiException(response.statusCode(), "unexpected answer to " + describe(request) + ": "
                    + e.getMessage() + "; is the server at " + baseUrl + " a Gale of the same version as this client?");
        }
    }

    private HttpResponse<byte[]> send(HttpRequest request) {
        try {
            return http.send(request, BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw unreachable(request, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted during " + describe(request));
        }
    }

    private GaleUnreachableException unreachable(HttpRequest request, IOException e) {
        String what = switch (e) {
            case HttpConnectTimeoutException timeout -> "no connection within " + CONNECT_TIMEOUT.toSeconds() + "s";
            case HttpTimeoutException timeout -> "no answer to " + describe(request) + " within "
                    + request.timeout().map(Duration::toSeconds).orElse(0L) + "s";
            case ConnectException refused -> "connection refused";
            default -> describe(request) + " failed: " + e;
        };
        return new GaleUnreachableException(baseUrl, what, e);
    }

    private static GaleApiException apiError(HttpResponse<byte[]> response) {
        return apiError(response.statusCode(), response.body());
    }

    /** The server's {@code {"error": ...}}, or what little the response says when it is not Gale's JSON. */
    private static GaleApiException apiError(int status, byte[] body) {
        return new GaleApiException(status, errorMessage(body));
    }

    private static String errorMessage(byte[] body) {
        try {
            String error = ApiJson.parse(body).path("error").asText("");
            if (!error.isBlank()) return error;
        } catch (IOException notJson) {
            // fall through to the raw body
        }
        String text = new String(body, UTF_8).strip();
        return text.isEmpty() ? "no error message" : text.substring(0, Math.min(text.length(), 300));
    }

    /** A function's JSON answer; an error status becomes a {@link GaleApiException} naming the function and request. */
    private static JsonNode functionAnswer(String function, HttpResponse<byte[]> response) {
        if (!isSuccess(response)) {
            String kind = response.headers().firstValue("X-Gale-Error").map(k -> " (" + k + " error)").orElse("");
            String requestId = response.headers().firstValue("X-Gale-Request-Id").map(id -> " (request " + id + ")").orElse("");
            throw new GaleApiException(response.statusCode(),
                    function + " failed" + kind + ": " + errorMessage(response.body()) + requestId);
        }
        if (response.body().length == 0) return NullNode.getInstance();
        try {
            return ApiJson.parse(response.body());
        } catch (IOException notJson) {
            return TextNode.valueOf(new String(response.body(), UTF_8));
        }
    }

    private static LogPage logPage(JsonNode json, long after) {
        List<LogEntry> entries = ApiJson.list(json, "entries", LogEntry::fromJson);
        long lastSeq = entries.stream().mapToLong(LogEntry::seq).max().orElse(after);
        return new LogPage(entries, json.path("next").asLong(lastSeq));
    }

    private static boolean isSuccess(HttpResponse<?> response) {
        return response.statusCode() / 100 == 2;
    }

    /** /v1/state/NS[/KEY]: a key's slashes stay slashes (the server refuses %2F in paths), the rest is escaped. */
    private static String statePath(String namespace, String key) {
        String path = "/v1/state/" + segment(namespace);
        if (key == null) return path;
        StringBuilder out = new StringBuilder(path).append('/');
        String[] parts = key.split("/", -1);
        for (int i = 0; i < parts.length; i++) out.append(i == 0 ? "" : "/").append(segment(parts[i]));
        return out.toString();
    }

    private static String jobPath(String id) {
        return "/v1/jobs/" + segment(id);
    }

    private static String schedulePath(String name) {
        return "/v1/schedules/" + segment(name);
    }

    private static String functionPath(String name) {
        return "/v1/functions/" + segment(name);
    }

    private static String segment(String value) {
        return URLEncoder.encode(value, UTF_8).replace("+", "%20");
    }

    private static String describe(HttpRequest request) {
        return request.method() + " " + request.uri().getRawPath();
    }

    private static Optional<String> nonBlank(String value) {
        return Optional.ofNullable(value).map(String::strip).filter(v -> !v.isEmpty());
    }

    private static URI parseUrl(String url) {
        try {
            return URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("GALE_URL '" + url + "' is not a URL; it looks like http://127.0.0.1:8080");
        }
    }

    /** Asks until {@code done} holds or {@code timeout} passed (a deadline: the time asking counts), backing off. */
    private static <T> T poll(Supplier<T> ask, Predicate<T> done, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = FIRST_POLL.toNanos();
        while (true) {
            T current = ask.get();
            long remaining = deadline - System.nanoTime();
            if (done.test(current) || remaining <= 0) return current;
            sleep(Math.min(pause, remaining), what);
            pause = Math.min(pause * 2, LONGEST_POLL.toNanos());
        }
    }

    static void sleep(long nanos, String what) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while " + what);
        }
    }
}
