package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.util.RawValue;
import gale.blob.BlobAlias;
import gale.blob.BlobCatalog;
import gale.blob.BlobNames;
import gale.blob.BlobRefused;
import gale.blob.BlobVersion;
import gale.gateway.RefusedBody;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Versioned blobs with aliases under /v1/blobs (docs/blobs.md); who may call it is {@link StateAccess}'s
 * to say. Bodies stream between the socket and a file, never whole in memory.
 */
public final class BlobsApi {

    static final String PREFIX = "/v1/blobs";
    /** Lets a caller stick to one side of a split alias (the same id always gets the same version). */
    static final String STICKY_HEADER = "X-Gale-Sticky";
    static final String METADATA_HEADER = "X-Gale-Blob-Metadata";

    private final BlobCatalog blobs;
    private final StateAccess access;
    private final long maxBlobBytes;

    public BlobsApi(BlobCatalog blobs, StateAccess access, long maxBlobBytes) {
        this.blobs = blobs;
        this.access = access;
        this.maxBlobBytes = maxBlobBytes;
    }

    public void register(RoutesConfig routes) {
        routes.exception(BlobRefused.class, (e, ctx) -> {
            int status = switch (e.reason()) {
                case INVALID -> 400;
                case NOT_FOUND -> 404;
                case CONFLICT -> 409;
                case TOO_LARGE -> 413;
            };
            ctx.status(status).json(Map.of("error", e.getMessage(), "status", status));
        });
        routes.get(PREFIX + "/<path>", ctx -> read(ctx, true));
        routes.head(PREFIX + "/<path>", ctx -> read(ctx, false));
        routes.put(PREFIX + "/<path>", this::write);
        routes.delete(PREFIX + "/<path>", this::delete);
        routes.post(PREFIX + "/<path>", this::reportCalls);
        routes.get(PREFIX, ctx -> {
            throw new BadRequestResponse("name a bucket: GET " + PREFIX + "/BUCKET lists its keys, GET " + PREFIX + "/BUCKET/KEY reads one");
        });
    }

    // ---- routes

    private void read(Context ctx, boolean withBody) throws IOException {
        Target t = target(ctx);
        access.allowBucket(ctx, t.bucket());
        if (t.key().isEmpty()) {
            list(ctx, t.bucket());
            return;
        }
        String key = t.key().get();
        switch (t.action().orElse("")) {
            case "" -> serve(ctx, t, withBody);
            case "versions" -> ctx.json(Map.of("bucket", t.bucket(), "key", key,
                    "versions", blobs.versions(t.bucket(), key).stream().map(BlobsApi::version).toList()));
            case "aliases" -> {
                if (t.alias().isPresent()) {
                    ctx.json(alias(blobs.alias(t.bucket(), key, t.alias().get()).orElseThrow(() ->
                            new NotFoundResponse(t.bucket() + "/" + key + " has no alias '" + t.alias().get() + "'"))));
                } else {
                    ctx.json(Map.of("bucket", t.bucket(), "key", key, "aliases", blobs.aliases(t.bucket(), key).stream().map(BlobsApi::alias).toList()));
                }
            }
            default -> throw unknownAction(t);
        }
    }

    /** The bytes of the latest version, of ?version=N, or of what KEY@ALIAS resolves to; 304 when If-None-Match holds its digest. */
    private void serve(Context ctx, Target t, boolean withBody) throws IOException {
        String key = t.key().orElseThrow();
        Optional<Integer> asked = versionParam(ctx);
        BlobVersion v;
        if (t.alias().isPresent()) {
            if (asked.isPresent()) throw new BadRequestResponse("ask for " + key + "@" + t.alias().get() + " or ?version=N, not both");
            // A GET counts as a call of the version the alias picked; a HEAD (a watcher asking "has it moved?") does not.
            v = blobs.resolve(t.bucket(), key, t.alias().get(), Optional.ofNullable(ctx.header(STICKY_HEADER)).filter(s -> !s.isBlank()), withBody);
            ctx.header("X-Gale-Blob-Alias", t.alias().get());
        } else if (asked.isPresent()) {
            v = blobs.version(t.bucket(), key, asked.get()).orElseThrow(() -> new NotFoundResponse(t.bucket() + "/" + key
                    + " has no version " + asked.get() + " (its versions: " + blobs.versions(t.bucket(), key).stream().map(BlobVersion::version).toList()
                    + "; `gale blobs versions " + t.bucket() + "/" + key + "` lists them)"));
        } else {
            v = blobs.latest(t.bucket(), key).orElseThrow(() -> new NotFoundResponse("no blob " + t.bucket() + "/" + key
                    + " (never put, or deleted); `gale blobs ls " + t.bucket() + "` lists the keys"));
        }
        String etag = "\"" + v.digest() + "\"";
        ctx.header("ETag", etag).header("X-Gale-Blob-Version", String.valueOf(v.version())).header("X-Gale-Blob-Digest", v.digest());
        v.metadata().ifPresent(m -> ctx.header(METADATA_HEADER, m));
        if (matches(ctx.header("If-None-Match"), etag)) {
            ctx.status(304);
            return;
        }
        ctx.contentType(v.contentType()).header("Content-Length", String.valueOf(v.bytes()));
        if (!withBody) return;
        // Files.newInputStream reads through a channel (no FileInputStream pinning a virtual thread's carrier).
        InputStream in = Files.newInputStream(blobs.path(v));
        ctx.result(in);
    }

    private static boolean matches(String ifNoneMatch, String etag) {
        if (ifNoneMatch == null) return false;
        for (String tag : ifNoneMatch.split(",")) {
            String s = tag.trim();
            if (s.startsWith("W/")) s = s.substring(2);
            if (s.equals(etag) || s.equals("*")) return true;
        }
        return false;
    }

    private void write(Context ctx) throws IOException {
        Target t = target(ctx);
        access.allowBucket(ctx, t.bucket());
        String key = t.key().orElseThrow(() -> new BadRequestResponse("PUT needs a key: " + PREFIX + "/" + t.bucket() + "/KEY with the bytes as the body"));
        if (t.action().equals(Optional.of("aliases")) && t.alias().isPresent()) {
            setAlias(ctx, t.bucket(), key, t.alias().get());
            return;
        }
        if (t.action().isPresent() || t.alias().isPresent()) {
            throw new BadRequestResponse("PUT " + PREFIX + "/BUCKET/KEY stores bytes; PUT " + PREFIX + "/BUCKET/KEY:aliases/ALIAS points an alias");
        }
        if (ctx.req().getContentLengthLong() > maxBlobBytes) {
            RefusedBody.discardRest(ctx, false, maxBlobBytes);
            throw BlobRefused.tooLarge("the blob " + t.bucket() + "/" + key + " is " + ctx.req().getContentLengthLong()
                    + " bytes, over this server's limit of " + maxBlobBytes + " bytes; split it, or start the server with a larger --max-blob-size");
        }
        Optional<String> metadata = Optional.ofNullable(ctx.header(METADATA_HEADER)).filter(s -> !s.isBlank());
        metadata.ifPresent(BlobsApi::checkMetadata);
        BlobCatalog.Put put;
        try {
            put = blobs.put(t.bucket(), key, ctx.req().getInputStream(), maxBlobBytes, Optional.ofNullable(ctx.contentType()), metadata);
        } catch (BlobRefused e) {
            if (e.reason() == BlobRefused.Reason.TOO_LARGE) RefusedBody.discardRest(ctx, true, maxBlobBytes);
            throw e;
        }
        Map<String, Object> out = version(put.version());
        out.put("created", put.created());
        ctx.status(put.created() ? 201 : 200).header("ETag", "\"" + put.version().digest() + "\"").json(out);
    }

    private static void checkMetadata(String text) {
        try {
            JsonNode node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(text);
            if (node == null || !node.isObject()) throw new IOException("not an object");
        } catch (IOException e) {
            throw new BadRequestResponse(METADATA_HEADER + " must be a JSON object, e.g. {\"accuracy\": 0.91}; got " + text);
        }
    }

    private void setAlias(Context ctx, String bucket, String key, String alias) {
        JsonNode body = StateAccess.body(ctx, "the alias");
        String shape = "send {\"version\": 7} to point the alias at one version, or {\"split\": {\"7\": 90, \"8\": 10}} to split "
                + "calls between two (weights add up to 100)";
        if (!body.isObject()) throw new BadRequestResponse(shape);
        StateAccess.unknownFields(body, Set.of("version", "split"), "the alias");
        List<BlobAlias.Target> targets = new ArrayList<>();
        if (body.has("version") == body.has("split")) throw new BadRequestResponse(shape);
        if (body.has("version")) {
            if (!body.get("version").isIntegralNumber() || !body.get("version").canConvertToInt()) throw new BadRequestResponse(shape + "; version was " + body.get("version"));
            targets.add(new BlobAlias.Target(body.get("version").asInt(), 100));
        } else {
            JsonNode split = body.get("split");
            if (!split.isObject()) throw new BadRequestResponse(shape + "; split was " + split);
            for (var it = split.fields(); it.hasNext(); ) {
                var e = it.next();
                int version;
                try {
                    version = Integer.parseInt(e.getKey().trim().replaceFirst("^v", ""));
                } catch (NumberFormatException ex) {
                    throw new BadRequestResponse("the split's keys are version numbers, got '" + e.getKey() + "'; " + shape);
                }
                if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToInt()) {
                    throw new BadRequestResponse("the weight of version " + version + " must be a whole number 1-100, got " + e.getValue() + "; " + shape);
                }
                targets.add(new BlobAlias.Target(version, e.getValue().asInt()));
            }
        }
        ctx.json(alias(blobs.setAlias(bucket, key, alias, targets)));
    }

    /** {"calls": {"7": 12, "8": 3}}: calls an instance served from a split it holds in memory (gale.blobs.load). */
    private void reportCalls(Context ctx) {
        Target t = target(ctx);
        access.allowBucket(ctx, t.bucket());
        String shape = "POST " + PREFIX + "/BUCKET/KEY:aliases/ALIAS takes {\"calls\": {\"7\": 12, \"8\": 3}}: calls each version served";
        if (t.key().isEmpty() || !t.action().equals(Optional.of("aliases")) || t.alias().isEmpty()) throw new BadRequestResponse(shape);
        JsonNode body = StateAccess.body(ctx, "the calls");
        if (!body.isObject() || !body.path("calls").isObject()) throw new BadRequestResponse(shape);
        StateAccess.unknownFields(body, Set.of("calls"), "the report");
        Map<Integer, Long> calls = new LinkedHashMap<>();
        for (var it = body.get("calls").fields(); it.hasNext(); ) {
            var e = it.next();
            try {
                if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToLong()) throw new NumberFormatException();
                calls.put(Integer.parseInt(e.getKey()), e.getValue().asLong());
            } catch (NumberFormatException ex) {
                throw new BadRequestResponse(shape + "; got " + e.getKey() + ": " + e.getValue());
            }
        }
        ctx.json(alias(blobs.addCalls(t.bucket(), t.key().get(), t.alias().get(), calls)));
    }

    private void delete(Context ctx) {
        Target t = target(ctx);
        access.allowBucket(ctx, t.bucket());
        String key = t.key().orElseThrow(() -> new BadRequestResponse("DELETE needs a key: " + PREFIX + "/" + t.bucket()
                + "/KEY (a bucket has no existence of its own: it is gone when its last key is)"));
        if (t.action().equals(Optional.of("aliases")) && t.alias().isPresent()) {
            if (!blobs.deleteAlias(t.bucket(), key, t.alias().get())) throw new NotFoundResponse(t.bucket() + "/" + key + " has no alias '" + t.alias().get() + "'");
        } else if (t.action().isPresent() || t.alias().isPresent()) {
            throw new BadRequestResponse("DELETE " + PREFIX + "/BUCKET/KEY deletes a key, ?version=N one version, :aliases/ALIAS an alias");
        } else {
            Optional<Integer> version = versionParam(ctx);
            boolean deleted = version.isPresent() ? blobs.deleteVersion(t.bucket(), key, version.get()) : blobs.deleteKey(t.bucket(), key);
            if (!deleted) throw new NotFoundResponse("no blob " + t.bucket() + "/" + key + version.map(v -> " version " + v).orElse("") + " to delete");
        }
        ctx.status(204);
    }

    private void list(Context ctx, String bucket) {
        String prefix = Optional.ofNullable(ctx.queryParam("prefix")).orElse("");
        int limit = 100;
        String limitText = ctx.queryParam("limit");
        if (limitText != null) {
            try {
                limit = Integer.parseInt(limitText.trim());
            } catch (NumberFormatException e) {
                throw new BadRequestResponse("limit must be a number between 1 and " + BlobCatalog.MAX_LIST_LIMIT + ", got '" + limitText + "'");
            }
        }
        BlobCatalog.Page page = blobs.list(bucket, prefix, Optional.ofNullable(ctx.queryParam("after")), limit);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("bucket", bucket);
        out.put("keys", page.keys().stream().map(BlobsApi::version).toList());
        out.put("next", page.next().orElse(null));
        ctx.json(out);
    }

    // ---- parsing

    /**
     * BUCKET, then optionally /KEY, KEY@ALIAS, KEY:versions, KEY:aliases or KEY:aliases/ALIAS, percent-decoded.
     * Keys hold neither '@' nor ':', so the first of either ends the key.
     */
    record Target(String bucket, Optional<String> key, Optional<String> alias, Optional<String> action) {
    }

    private static Target target(Context ctx) {
        String raw = ctx.req().getRequestURI().substring(PREFIX.length() + 1);
        int slash = raw.indexOf('/');
        String bucket = StateApi.decode(slash < 0 ? raw : raw.substring(0, slash));
        BlobNames.checkBucket(bucket);
        if (slash < 0) return new Target(bucket, Optional.empty(), Optional.empty(), Optional.empty());
        String rest = StateApi.decode(raw.substring(slash + 1));
        Optional<String> action = Optional.empty();
        Optional<String> alias = Optional.empty();
        int colon = rest.indexOf(':');
        if (colon >= 0) {
            action = Optional.of(rest.substring(colon + 1));
            rest = rest.substring(0, colon);
            if (action.get().startsWith("aliases/")) {
                alias = Optional.of(action.get().substring("aliases/".length()));
                action = Optional.of("aliases");
                BlobNames.checkAlias(alias.get());
            } else if (!action.get().equals("versions") && !action.get().equals("aliases")) {
                throw new BadRequestResponse("unknown action ':" + action.get() + "'; a key has :versions, :aliases and :aliases/ALIAS");
            }
        }
        int at = rest.indexOf('@');
        if (at >= 0) {
            if (action.isPresent()) throw new BadRequestResponse("'" + rest + ":" + action.get() + "': name the key without an alias before ':'");
            alias = Optional.of(rest.substring(at + 1));
            rest = rest.substring(0, at);
            BlobNames.checkAlias(alias.get());
        }
        BlobNames.checkKey(rest);
        return new Target(bucket, Optional.of(rest), alias, action);
    }

    private static BadRequestResponse unknownAction(Target t) {
        return new BadRequestResponse("unknown action ':" + t.action().orElse("") + "'");
    }

    private static Optional<Integer> versionParam(Context ctx) {
        String v = ctx.queryParam("version");
        if (v == null) return Optional.empty();
        try {
            int n = Integer.parseInt(v.trim().replaceFirst("^v", ""));
            if (n < 1) throw new NumberFormatException();
            return Optional.of(n);
        } catch (NumberFormatException e) {
            throw new BadRequestResponse("version must be a version number (1, 2, ...), got '" + v + "'");
        }
    }

    // ---- answers

    static Map<String, Object> version(BlobVersion v) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("bucket", v.bucket());
        out.put("key", v.key());
        out.put("version", v.version());
        out.put("digest", v.digest());
        out.put("bytes", v.bytes());
        out.put("contentType", v.contentType());
        out.put("metadata", v.metadata().map(RawValue::new).orElse(null));
        out.put("createdAt", v.createdAt().toString());
        return out;
    }

    static Map<String, Object> alias(BlobAlias a) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("bucket", a.bucket());
        out.put("key", a.key());
        out.put("alias", a.alias());
        out.put("targets", a.targets().stream().map(t -> Map.of("version", t.version(), "weight", t.weight())).toList());
        Map<String, Long> calls = new LinkedHashMap<>();
        a.calls().forEach((v, n) -> calls.put(String.valueOf(v), n));
        out.put("calls", calls);
        out.put("updatedAt", a.updatedAt().toString());
        return out;
    }
}
