package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.secrets.Secrets;
import gale.store.SecretStore;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Secrets under /v1/secrets and their grants under /v1/functions/{name}/secrets (docs/secrets.md),
 * for the admin token and keys with admin scope only ({@link ApiAccess}). No answer ever carries a value.
 */
public final class SecretsApi {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Secrets secrets;

    public SecretsApi(Secrets secrets) {
        this.secrets = secrets;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/secrets", ctx -> ctx.json(secrets.list().stream().map(SecretsApi::json).toList()));
        routes.put("/v1/secrets/{name}", ctx -> refusing(() -> {
            int version = secrets.set(ctx.pathParam("name"), ctx.bodyAsBytes());
            ctx.status(version == 1 ? 201 : 200).json(Map.of("name", ctx.pathParam("name"), "version", version,
                    "note", "instances started from now on get this value; running ones keep theirs until they stop"));
        }));
        routes.delete("/v1/secrets/{name}", ctx -> {
            if (!secrets.delete(ctx.pathParam("name"))) throw new NotFoundResponse("no secret " + ctx.pathParam("name"));
            ctx.status(204);
        });
        routes.get("/v1/functions/{name}/secrets", ctx -> ctx.json(java.util.stream.Stream.concat(
                secrets.grants(ctx.pathParam("name")).stream().map(SecretsApi::grant),
                secrets.fileGrants(ctx.pathParam("name")).stream().map(SecretsApi::fileGrant)).toList()));
        // The file name travels in the body: a '/' or '..' in a path segment would be refused before it is read.
        routes.post("/v1/functions/{name}/secret-files", this::grantFile);
        routes.delete("/v1/functions/{name}/secret-files/{file}", ctx -> {
            if (!secrets.revokeFile(ctx.pathParam("name"), ctx.pathParam("file"))) {
                throw new NotFoundResponse("function '" + ctx.pathParam("name") + "' has no secret file " + ctx.pathParam("file"));
            }
            ctx.status(204);
        });
        routes.put("/v1/functions/{name}/secrets/{env}", this::grant);
        routes.delete("/v1/functions/{name}/secrets/{env}", ctx -> {
            if (!secrets.revoke(ctx.pathParam("name"), ctx.pathParam("env"))) {
                throw new NotFoundResponse("function '" + ctx.pathParam("name") + "' has no secret as " + ctx.pathParam("env"));
            }
            ctx.status(204);
        });
    }

    private void grant(Context ctx) {
        JsonNode body;
        try {
            body = JSON.readTree(ctx.body());
        } catch (IOException e) {
            body = null;
        }
        if (body == null || !body.path("secret").isTextual()) {
            throw new BadRequestResponse("send {\"secret\": \"NAME\"}: the secret whose value the variable "
                    + ctx.pathParam("env") + " gets");
        }
        String secret = body.path("secret").asText();
        refusing(() -> secrets.grant(secret, ctx.pathParam("name"), ctx.pathParam("env")));
        ctx.json(Map.of("function", ctx.pathParam("name"), "env", ctx.pathParam("env"), "secret", secret,
                "note", "instances started from now on get it; running ones keep theirs until they stop"));
    }

    private void grantFile(Context ctx) {
        JsonNode body;
        try {
            body = JSON.readTree(ctx.body());
        } catch (IOException e) {
            body = null;
        }
        if (body == null || !body.path("secret").isTextual() || !body.path("file").isTextual()) {
            throw new BadRequestResponse("send {\"secret\": \"NAME\", \"file\": \"FILE\"}: the secret whose value the file "
                    + "FILE of $GALE_SECRETS_DIR holds");
        }
        String secret = body.path("secret").asText();
        String file = body.path("file").asText();
        refusing(() -> secrets.grantFile(secret, ctx.pathParam("name"), file));
        ctx.json(Map.of("function", ctx.pathParam("name"), "file", file, "secret", secret,
                "note", "instances started from now on find it in $GALE_SECRETS_DIR/" + file + "; running ones do not"));
    }

    private static void refusing(Runnable action) {
        try {
            action.run();
        } catch (Secrets.Refused e) {
            throw new HttpResponseException(e.status, e.getMessage());
        }
    }

    private static Map<String, Object> json(Secrets.Listed s) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", s.name());
        out.put("version", s.version());
        out.put("bytes", s.bytes());
        out.put("updatedAt", s.updatedAt().toString());
        out.put("grants", java.util.stream.Stream.concat(s.grants().stream().map(SecretsApi::grant),
                s.fileGrants().stream().map(SecretsApi::fileGrant)).toList());
        return out;
    }

    private static Map<String, Object> grant(SecretStore.Grant g) {
        return Map.of("function", g.function(), "env", g.env(), "secret", g.secret(), "grantedAt", g.grantedAt().toString());
    }

    private static Map<String, Object> fileGrant(SecretStore.FileGrant g) {
        return Map.of("function", g.function(), "file", g.file(), "secret", g.secret(), "grantedAt", g.grantedAt().toString());
    }
}
