package gale.registry;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;

/**
 * How a function's calls are shared between its versions, in whole percent summing to 100, as
 * Cloud Run's {@code --to-revisions}: each call draws a bucket from 0 to 99 and goes to the version
 * whose range holds it. A call with a sticky key draws the bucket from the key's hash instead, so
 * the same key always meets the same version while the split stays. Immutable; picking is a scan
 * of at most a few entries, with no lock and no allocation.
 */
public final class TrafficSplit {

    public static final int BUCKETS = 100;

    private final int[] versions; // ascending, each with a share above 0
    private final int[] upTo;     // exclusive upper bucket of each version's range; the last is 100

    private TrafficSplit(int[] versions, int[] upTo) {
        this.versions = versions;
        this.upTo = upTo;
    }

    /** All calls to one version. */
    public static TrafficSplit all(int version) {
        return new TrafficSplit(new int[] {version}, new int[] {BUCKETS});
    }

    /**
     * A split from version to percent. Versions with 0 are left out: they take no calls (a tag still reaches them).
     *
     * @throws InvalidTrafficException when a percent is below 0 or above 100, or the percents do not add up to 100
     */
    public static TrafficSplit of(Map<Integer, Integer> percentByVersion) throws InvalidTrafficException {
        if (percentByVersion.isEmpty()) {
            throw new InvalidTrafficException("the split names no version; give each version its percent, like v3=90,v4=10");
        }
        var sorted = new TreeMap<>(percentByVersion);
        long sum = 0;
        for (var e : sorted.entrySet()) {
            if (e.getKey() < 1) throw new InvalidTrafficException("v" + e.getKey() + " is not a version: versions are numbered from 1");
            int percent = e.getValue();
            if (percent < 0 || percent > BUCKETS) {
                throw new InvalidTrafficException("the percent of v" + e.getKey() + " must be a whole number from 0 to 100, got " + percent);
            }
            sum += percent;
        }
        if (sum != BUCKETS) {
            throw new InvalidTrafficException("the split " + describe(sorted) + " adds up to " + sum + "%, not 100%; "
                    + "give the versions percents that add up to 100");
        }
        int[] versions = sorted.entrySet().stream().filter(e -> e.getValue() > 0).mapToInt(Map.Entry::getKey).toArray();
        int[] upTo = new int[versions.length];
        int at = 0;
        for (int i = 0; i < versions.length; i++) {
            at += sorted.get(versions[i]);
            upTo[i] = at;
        }
        return new TrafficSplit(versions, upTo);
    }

    /** The version that serves a call that drew {@code bucket}, from 0 to 99. */
    public int pick(int bucket) {
        for (int i = 0; i < upTo.length - 1; i++) {
            if (bucket < upTo[i]) return versions[i];
        }
        return versions[versions.length - 1];
    }

    /** A bucket drawn at random, for a call without a sticky key. */
    public static int randomBucket() {
        return ThreadLocalRandom.current().nextInt(BUCKETS);
    }

    /** The bucket of a sticky key: always the same for the same key, spread evenly over keys. */
    public static int bucketOf(String stickyKey) {
        long h = 0xcbf29ce484222325L; // FNV-1a over the key's UTF-8 bytes, then a final mix (splitmix64's)
        for (byte b : stickyKey.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        h ^= h >>> 31;
        return (int) Math.floorMod(h, (long) BUCKETS);
    }

    /** Version to percent, ascending by version; only versions that take calls. */
    public Map<Integer, Integer> percents() {
        Map<Integer, Integer> out = new TreeMap<>();
        for (int i = 0; i < versions.length; i++) out.put(versions[i], upTo[i] - (i == 0 ? 0 : upTo[i - 1]));
        return Collections.unmodifiableMap(out);
    }

    /** Like {@code v3=90,v4=10}: what the CLI takes and the logs show. */
    public static String describe(Map<Integer, Integer> percentByVersion) {
        return new TreeMap<>(percentByVersion).entrySet().stream().map(e -> "v" + e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(","));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrafficSplit other && Arrays.equals(versions, other.versions) && Arrays.equals(upTo, other.upTo);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(versions) + Arrays.hashCode(upTo);
    }

    @Override
    public String toString() {
        return describe(percents());
    }
}
