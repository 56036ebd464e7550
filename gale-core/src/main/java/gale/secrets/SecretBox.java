package gale.secrets;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;

/**
 * Seals secret values with AES-256-GCM under a key of their own (the data dir's {@code secrets.key},
 * made once, readable by the server's user only): what the store holds is useless without it, and
 * a sealed value moved to another name does not open ({@code name} is the associated data).
 */
public final class SecretBox {

    static final String KEY_FILE = "secrets.key";
    private static final int KEY_BYTES = 32;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;

    private final SecretKeySpec key;
    private final SecureRandom random = new SecureRandom();

    SecretBox(byte[] key) {
        if (key.length != KEY_BYTES) throw new IllegalArgumentException("a secrets key has " + KEY_BYTES + " bytes, got " + key.length);
        this.key = new SecretKeySpec(key, "AES");
    }

    /** The box of {@code dataDir}'s key, made (0600) on first use. */
    public static SecretBox inDataDir(Path dataDir) {
        Path file = dataDir.resolve(KEY_FILE);
        try {
            if (!Files.exists(file)) {
                byte[] fresh = new byte[KEY_BYTES];
                new SecureRandom().nextBytes(fresh);
                try {
                    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                    Files.write(file, fresh);
                } catch (FileAlreadyExistsException raced) {
                    // another server start made it first: use theirs
                }
            }
            byte[] key = Files.readAllBytes(file);
            if (key.length != KEY_BYTES) {
                throw new IllegalStateException(file + " holds " + key.length + " bytes, not a " + KEY_BYTES
                        + "-byte key; restore it from a backup (without it the stored secrets cannot be read)");
            }
            return new SecretBox(key);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the secrets key " + file + ": " + e.getMessage(), e);
        }
    }

    String seal(String name, byte[] value) {
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(name.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = cipher.doFinal(value);
            byte[] out = Arrays.copyOf(nonce, NONCE_BYTES + sealed.length);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot seal secret " + name + ": " + e, e);
        }
    }

    byte[] open(String name, String sealed) {
        byte[] in = Base64.getDecoder().decode(sealed);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
            cipher.updateAAD(name.getBytes(StandardCharsets.UTF_8));
            return cipher.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new IllegalStateException("secret " + name + " does not open with this data dir's " + KEY_FILE
                    + " (another key, or the stored value was altered); set it again with `gale secrets set " + name + "`", e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot open secret " + name + ": " + e, e);
        }
    }
}
