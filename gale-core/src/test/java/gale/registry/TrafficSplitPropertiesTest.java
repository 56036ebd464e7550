package gale.registry;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.StringLength;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The weighted choice of a version: over the 100 buckets each version gets exactly its percent, only versions of
 * the split are picked, a split that does not add up to 100 (or has a percent out of 0..100) is refused, and a
 * sticky key always lands in the same bucket while keys spread over all of them.
 */
class TrafficSplitPropertiesTest {

    /** Splits that add up to 100: a few versions with random cuts of 0..100, zeros included. */
    @Provide
    Arbitrary<Map<Integer, Integer>> splits() {
        return Arbitraries.integers().between(1, 8).flatMap(n -> Combinators.combine(
                Arbitraries.integers().between(1, 50).set().ofSize(n),
                Arbitraries.integers().between(0, 100).list().ofSize(n - 1)).as((versions, cuts) -> {
                    List<Integer> sortedCuts = new java.util.ArrayList<>(cuts);
                    sortedCuts.add(0);
                    sortedCuts.add(100);
                    sortedCuts.sort(null);
                    Map<Integer, Integer> split = new HashMap<>();
                    int i = 0;
                    for (int v : versions) {
                        split.put(v, sortedCuts.get(i + 1) - sortedCuts.get(i));
                        i++;
                    }
                    return split;
                }));
    }

    @Property(tries = 500)
    void everyVersionGetsExactlyItsPercentOfTheBuckets(@ForAll("splits") Map<Integer, Integer> percents) throws Exception {
        TrafficSplit split = TrafficSplit.of(percents);

        Map<Integer, Integer> picked = new TreeMap<>();
        for (int bucket = 0; bucket < TrafficSplit.BUCKETS; bucket++) picked.merge(split.pick(bucket), 1, Integer::sum);

        Map<Integer, Integer> expected = new TreeMap<>(percents);
        expected.values().removeIf(p -> p == 0); // a version with 0 takes no calls
        assertThat(picked).isEqualTo(expected);
        assertThat(split.percents()).isEqualTo(expected);
    }

    @Property(tries = 300)
    void aSplitThatDoesNotAddUpTo100IsRefusedSayingWhatItAddsUpTo(
            @ForAll @Size(min = 1, max = 6) Map<@IntRange(min = 1, max = 40) Integer, @IntRange(min = 0, max = 100) Integer> percents) {
        int sum = percents.values().stream().mapToInt(Integer::intValue).sum();
        if (sum == 100) return;

        InvalidTrafficException e = catchThrowableOfType(InvalidTrafficException.class, () -> TrafficSplit.of(percents));

        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("adds up to " + sum + "%, not 100%");
    }

    @Property(tries = 200)
    void aPercentOutsideZeroToHundredIsRefusedNamingItsVersion(
            @ForAll @IntRange(min = 1, max = 40) int version,
            @ForAll @IntRange(min = -1000, max = 1000) int percent) {
        if (percent >= 0 && percent <= 100) return;

        InvalidTrafficException e = catchThrowableOfType(InvalidTrafficException.class,
                () -> TrafficSplit.of(Map.of(version, percent, version + 1, 100 - percent)));

        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("whole number from 0 to 100").contains("the percent of v" + version + " ");
    }

    @Property(tries = 300)
    void aStickyKeyAlwaysLandsInTheSameBucket(@ForAll @StringLength(max = 200) String key) {
        int bucket = TrafficSplit.bucketOf(key);

        assertThat(bucket).isBetween(0, TrafficSplit.BUCKETS - 1);
        assertThat(TrafficSplit.bucketOf(new String(key.toCharArray()))).isEqualTo(bucket);
    }

    @Property(tries = 20)
    void stickyKeysSpreadOverTheBucketsAsRandomOnesWould(@ForAll @IntRange(min = 0, max = 1_000_000) int seed) {
        int[] counts = new int[TrafficSplit.BUCKETS];
        int keys = 20_000; // 200 a bucket: sd about 14, so 100..300 holds for every bucket in any sane hash
        for (int i = 0; i < keys; i++) counts[TrafficSplit.bucketOf("respondent-" + seed + "-" + i)]++;

        for (int bucket = 0; bucket < counts.length; bucket++) {
            assertThat(counts[bucket]).as("keys in bucket %d", bucket).isBetween(100, 300);
        }
    }
}
