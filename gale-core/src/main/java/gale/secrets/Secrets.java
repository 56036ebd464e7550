package gale.secrets;

import gale.runtime.InstanceCredentials;
import gale.runtime.InstanceSpec;
import gale.store.SecretStore;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Secrets (docs/secrets.md): values set by the admin, stored sealed ({@link SecretBox}), and handed
 * to the instances of the functions they are granted to as environment variables. Values never leave
 * the server except into those instances: the API lists names, versions and grants only.
 */
public final class Secrets implements InstanceCredentials {

    public static final int MAX_VALUE_BYTES = 64 * 1024;
    public static final String NAME_RULE = "1-63 lowercase letters, digits, '.', '_' and '-', starting with a letter or digit";

    /** What the caller asked cannot be done; the message says what to do. */
    public static final class Refused extends RuntimeException {
        public final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    public static final int MAX_FILE_NAME_CHARS = 128;
    public static final String FILE_RULE = "a file name is 1-" + MAX_FILE_NAME_CHARS + " letters, digits, '.', '_' and '-', "
            + "not starting with '.', with no '/' (the file lies directly in $GALE_SECRETS_DIR), like api-key.json";

    /** A secret without its value. */
    public record Listed(String name, int version, int bytes, java.time.Instant updatedAt, List<SecretStore.Grant> grants,
                         List<SecretStore.FileGrant> fileGrants) {
    }

    private final SecretStore store;
    private final SecretBox box;
    private final Predicate<String> functionExists;
    private final Clock clock;

    public Secrets(SecretStore store, SecretBox box, Predicate<String> functionExists, Clock clock) {
        this.store = store;
        this.box = box;
        this.functionExists = functionExists;
        this.clock = clock;
    }

    /** Stores a new value of {@code name}; returns its version (1 for a new secret). */
    public int set(String name, byte[] value) {
        checkName(name);
        if (value.length == 0) throw new Refused(400, "secret " + name + " has an empty value; send the value as the body");
        if (value.length > MAX_VALUE_BYTES) {
            throw new Refused(413, "secret " + name + " is " + value.length + " bytes, over the " + (MAX_VALUE_BYTES / 1024)
                    + " KB limit; keep big files in a blob and the secret for what opens them");
        }
        for (byte b : value) {
            if (b == 0) throw new Refused(400, "secret " + name + " holds a NUL byte, which no environment variable can; send text (base64 for binary keys)");
        }
        if (!isUtf8(value)) throw new Refused(400, "secret " + name + " is not UTF-8 text; it becomes an environment variable, so "
                + "send text (base64 for binary keys)");
        return store.put(name, box.seal(name, value), value.length, clock.instant());
    }

    public List<Listed> list() {
        List<SecretStore.Grant> grants = store.grants(Optional.empty());
        List<SecretStore.FileGrant> fileGrants = store.fileGrants(Optional.empty());
        return store.list().stream().map(s -> new Listed(s.name(), s.version(), s.bytes(), s.updatedAt(),
                grants.stream().filter(g -> g.secret().equals(s.name())).toList(),
                fileGrants.stream().filter(g -> g.secret().equals(s.name())).toList())).toList();
    }

    public boolean delete(String name) {
        return store.delete(name);
    }

    /** Function {@code function}'s instances started from now on get secret {@code name} as variable {@code env}. */
    public void grant(String name, String function, String env) {
        if (store.find(name).isEmpty()) throw new Refused(404, "no secret " + name + "; set it first with `gale secrets set " + name + "`");
        if (!functionExists.test(function)) throw new Refused(404, "function '" + function + "' not found; deploy it first");
        if (!env.matches("[A-Za-z_][A-Za-z0-9_]{0,127}")) {
            throw new Refused(400, "'" + env + "' is not an environment variable name: letters, digits and '_', not starting with a digit");
        }
        if (env.startsWith("GALE_")) throw new Refused(400, "'" + env + "' is reserved: GALE_* variables belong to the platform");
        store.grant(function, env, name, clock.instant());
    }

    public boolean revoke(String function, String env) {
        return store.revoke(function, env);
    }

    public List<SecretStore.Grant> grants(String function) {
        return store.grants(Optional.of(function));
    }

    /** Function {@code function}'s instances started from now on find secret {@code name} in $GALE_SECRETS_DIR/{@code file}. */
    public void grantFile(String name, String function, String file) {
        checkFileName(file);
        if (store.find(name).isEmpty()) throw new Refused(404, "no secret " + name + "; set it first with `gale secrets set " + name + "`");
        if (!functionExists.test(function)) throw new Refused(404, "function '" + function + "' not found; deploy it first");
        store.grantFile(function, file, name, clock.instant());
    }

    public boolean revokeFile(String function, String file) {
        return store.revokeFile(function, file);
    }

    public List<SecretStore.FileGrant> fileGrants(String function) {
        return store.fileGrants(Optional.of(function));
    }

    /** Refuses a file name that could leave the secrets folder or cannot be a file name, saying which rule it breaks. */
    static void checkFileName(String file) {
        String why = null;
        if (file == null || file.isEmpty()) why = "is empty";
        else if (file.indexOf('\0') >= 0) why = "holds a NUL byte";
        else if (file.length() > MAX_FILE_NAME_CHARS) why = "is " + file.length() + " characters long";
        else if (file.startsWith("/")) why = "is an absolute path";
        else if (file.equals("..") || file.startsWith("../") || file.endsWith("/..") || file.contains("/../")) why = "climbs out with '..'";
        else if (file.contains("/")) why = "has a '/'";
        else if (file.startsWith(".")) why = "starts with '.'";
        else if (!file.matches("[A-Za-z0-9._-]+")) why = "has a character other than letters, digits, '.', '_' and '-'";
        if (why != null) throw new Refused(400, "secret file name '" + gale.registry.FunctionName.shown(file) + "' " + why + ": " + FILE_RULE);
    }

    /** The file-granted secrets of the instance's function, opened: read at each instance start, as {@link #environment}. */
    @Override
    public Map<String, byte[]> files(InstanceSpec spec) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (SecretStore.FileGrant g : store.fileGrants(Optional.of(spec.function()))) {
            store.find(g.secret()).ifPresent(s -> files.put(g.file(), box.open(s.name(), s.sealed())));
        }
        return files;
    }

    /** The granted secrets of the instance's function, opened: read at each instance start, so a new value reaches new instances. */
    @Override
    public Map<String, String> environment(InstanceSpec spec) {
        Map<String, String> env = new LinkedHashMap<>();
        for (SecretStore.Grant g : store.grants(Optional.of(spec.function()))) {
            store.find(g.secret()).ifPresent(s -> env.put(g.env(), new String(box.open(s.name(), s.sealed()), StandardCharsets.UTF_8)));
        }
        return env;
    }

    static void checkName(String name) {
        if (!name.matches("[a-z0-9][a-z0-9._-]{0,62}")) throw new Refused(400, "'" + name + "' is not a secret name: " + NAME_RULE);
    }

    private static boolean isUtf8(byte[] value) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
