package gale.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Sealed secret values and the grants that hand them to functions' instances. Plain SQL PostgreSQL runs too. */
public final class SecretStore {

    /** A secret as stored: {@code sealed} opens only with the data dir's key. */
    public record SecretRow(String name, int version, String sealed, int bytes, Instant updatedAt) {
    }

    /** Function {@code function}'s instances get secret {@code secret} as variable {@code env}. */
    public record Grant(String function, String env, String secret, Instant grantedAt) {
    }

    /** Function {@code function}'s instances find secret {@code secret} in file {@code file} of their $GALE_SECRETS_DIR. */
    public record FileGrant(String function, String file, String secret, Instant grantedAt) {
    }

    private final Jdbi jdbi;

    SecretStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Stores the value (version 1, or the next version of the name); returns the version. */
    public int put(String name, String sealed, int bytes, Instant now) {
        return jdbi.inTransaction(h -> {
            int version = h.createQuery("SELECT version FROM secrets WHERE name = :n").bind("n", name)
                    .mapTo(Integer.class).findOne().orElse(0) + 1;
            h.createUpdate("""
                            INSERT INTO secrets (name, version, sealed, bytes, updated_at) VALUES (:n, :v, :s, :b, :t)
                            ON CONFLICT (name) DO UPDATE SET version = excluded.version, sealed = excluded.sealed,
                                bytes = excluded.bytes, updated_at = excluded.updated_at""")
                    .bind("n", name).bind("v", version).bind("s", sealed).bind("b", bytes).bind("t", now.toString()).execute();
            return version;
        });
    }

    public Optional<SecretRow> find(String name) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM secrets WHERE name = :n").bind("n", name)
                .map((rs, ctx) -> new SecretRow(rs.getString("name"), rs.getInt("version"), rs.getString("sealed"),
                        rs.getInt("bytes"), Instant.parse(rs.getString("updated_at")))).findOne());
    }

    public List<SecretRow> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM secrets ORDER BY name")
                .map((rs, ctx) -> new SecretRow(rs.getString("name"), rs.getInt("version"), rs.getString("sealed"),
                        rs.getInt("bytes"), Instant.parse(rs.getString("updated_at")))).list());
    }

    /** Deletes the secret and every grant of it; false when there was none. */
    public boolean delete(String name) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("DELETE FROM secret_grants WHERE secret_name = :n").bind("n", name).execute();
            h.createUpdate("DELETE FROM secret_file_grants WHERE secret_name = :n").bind("n", name).execute();
            return h.createUpdate("DELETE FROM secrets WHERE name = :n").bind("n", name).execute() > 0;
        });
    }

    /** Grants (or re-points) variable {@code env} of {@code function} to {@code secret}. */
    public void grant(String function, String env, String secret, Instant now) {
        jdbi.useHandle(h -> h.createUpdate("""
                        INSERT INTO secret_grants (function_name, env_name, secret_name, granted_at) VALUES (:f, :e, :s, :t)
                        ON CONFLICT (function_name, env_name) DO UPDATE SET secret_name = excluded.secret_name,
                            granted_at = excluded.granted_at""")
                .bind("f", function).bind("e", env).bind("s", secret).bind("t", now.toString()).execute());
    }

    public boolean revoke(String function, String env) {
        return jdbi.withHandle(h -> h.createUpdate("DELETE FROM secret_grants WHERE function_name = :f AND env_name = :e")
                .bind("f", function).bind("e", env).execute() > 0);
    }

    /** The grants of one function, or of all when {@code function} is empty, by function and variable. */
    public List<Grant> grants(Optional<String> function) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM secret_grants WHERE (:f IS NULL OR function_name = :f) ORDER BY function_name, env_name""")
                .bind("f", function.orElse(null))
                .map((rs, ctx) -> new Grant(rs.getString("function_name"), rs.getString("env_name"), rs.getString("secret_name"),
                        Instant.parse(rs.getString("granted_at")))).list());
    }

    /** Grants (or re-points) file {@code file} of {@code function}'s secrets dir to {@code secret}. */
    public void grantFile(String function, String file, String secret, Instant now) {
        jdbi.useHandle(h -> h.createUpdate("""
                        INSERT INTO secret_file_grants (function_name, file_name, secret_name, granted_at) VALUES (:f, :n, :s, :t)
                        ON CONFLICT (function_name, file_name) DO UPDATE SET secret_name = excluded.secret_name,
                            granted_at = excluded.granted_at""")
                .bind("f", function).bind("n", file).bind("s", secret).bind("t", now.toString()).execute());
    }

    public boolean revokeFile(String function, String file) {
        return jdbi.withHandle(h -> h.createUpdate("DELETE FROM secret_file_grants WHERE function_name = :f AND file_name = :n")
                .bind("f", function).bind("n", file).execute() > 0);
    }

    /** The file grants of one function, or of all when {@code function} is empty, by function and file. */
    public List<FileGrant> fileGrants(Optional<String> function) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM secret_file_grants WHERE (:f IS NULL OR function_name = :f) ORDER BY function_name, file_name""")
                .bind("f", function.orElse(null))
                .map((rs, ctx) -> new FileGrant(rs.getString("function_name"), rs.getString("file_name"), rs.getString("secret_name"),
                        Instant.parse(rs.getString("granted_at")))).list());
    }

    static void deleteOfFunction(Handle h, String function) {
        h.createUpdate("DELETE FROM secret_grants WHERE function_name = :f").bind("f", function).execute();
        h.createUpdate("DELETE FROM secret_file_grants WHERE function_name = :f").bind("f", function).execute();
    }
}
