package gale.blob;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/** What a bucket, a key and an alias may be (docs/blobs.md#names); each check says what to do instead. */
public final class BlobNames {

    public static final int MAX_KEY_BYTES = 1024;
    public static final String BUCKET_RULE = "a bucket is 1-63 lowercase letters, digits, '.', '_' and '-', starting with "
            + "a letter or digit (a function's own bucket is its name)";
    public static final String KEY_RULE = "a key is 1-" + MAX_KEY_BYTES + " bytes of printable text without '@' or ':', "
            + "made of '/'-separated parts that are neither empty, '.' nor '..' (e.g. models/churn.pkl)";
    public static final String ALIAS_RULE = "an alias is 1-63 lowercase letters, digits, '.', '_' and '-', starting with "
            + "a letter (e.g. prod, canary)";

    private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
    private static final Pattern ALIAS = Pattern.compile("[a-z][a-z0-9._-]{0,62}");

    private BlobNames() {
    }

    public static void checkBucket(String bucket) {
        if (bucket.isEmpty()) throw BlobRefused.invalid("the bucket is empty; " + BUCKET_RULE);
        if (!BUCKET.matcher(bucket).matches()) throw BlobRefused.invalid("'" + preview(bucket) + "' is not a bucket: " + BUCKET_RULE);
    }

    public static void checkKey(String key) {
        if (key.isEmpty()) throw BlobRefused.invalid("the key is empty; " + KEY_RULE);
        int bytes = key.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_KEY_BYTES) throw BlobRefused.invalid("the key '" + preview(key) + "' is " + bytes + " bytes; " + KEY_RULE);
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                throw BlobRefused.invalid("the key '" + preview(key) + "' holds '" + (c == '\\' ? "\\" : "code " + (int) c)
                        + "' at " + i + "; " + KEY_RULE);
            }
            if (c == '@' || c == ':') {
                throw BlobRefused.invalid("the key '" + preview(key) + "' holds '" + c + "'; " + KEY_RULE
                        + " ('@' names an alias, as in models/churn@prod)");
            }
        }
        for (String part : key.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw BlobRefused.invalid("the key '" + preview(key) + "' has a part '" + part + "'; " + KEY_RULE);
            }
        }
    }

    public static void checkAlias(String alias) {
        if (alias.isEmpty()) throw BlobRefused.invalid("the alias is empty; " + ALIAS_RULE);
        if (!ALIAS.matcher(alias).matches()) throw BlobRefused.invalid("'" + preview(alias) + "' is not an alias: " + ALIAS_RULE);
    }

    static String preview(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
