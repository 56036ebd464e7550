package gale.blob;

import gale.store.TestStores;
import gale.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlobCatalogTest {

    @TempDir
    Path dir;
    Store store;
    BlobCatalog blobs;

    @BeforeEach
    void open() {
        store = TestStores.open(dir);
        blobs = store.blobCatalog(new BlobStore(dir.resolve("blobs")));
    }

    @AfterEach
    void close() {
        store.close();
    }

    private BlobCatalog.Put put(String key, String text) throws IOException {
        return blobs.put("models", key, new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), 1 << 20,
                Optional.empty(), Optional.empty());
    }

    @Test
    void eachNewContentIsTheNextVersionAndTheSameBytesAgainMakeNone() throws IOException {
        BlobCatalog.Put v1 = put("churn.pkl", "one");
        BlobCatalog.Put v2 = put("churn.pkl", "two");
        BlobCatalog.Put again = put("churn.pkl", "two");
        assertThat(v1.version().version()).isEqualTo(1);
        assertThat(v2.version().version()).isEqualTo(2);
        assertThat(again.created()).isFalse();
        assertThat(again.version().version()).isEqualTo(2);
        assertThat(v2.version().digest()).startsWith("sha256:");
        assertThat(Files.readString(blobs.path(blobs.version("models", "churn.pkl", 1).orElseThrow()))).isEqualTo("one");
        assertThat(blobs.versions("models", "churn.pkl")).extracting(BlobVersion::version).containsExactly(2, 1);
    }

    @Test
    void versionNumbersAreNeverReusedAfterAKeyIsDeleted() throws IOException {
        put("k", "a");
        put("k", "b");
        assertThat(blobs.deleteKey("models", "k")).isTrue();
        assertThat(blobs.latest("models", "k")).isEmpty();
        assertThat(put("k", "c").version().version()).isEqualTo(3);
    }

    @Test
    void bytesAreDeletedWithTheLastVersionNamingThem() throws IOException {
        BlobVersion a = put("a", "same").version();
        put("b", "same");
        Path file = blobs.path(a);
        blobs.deleteKey("models", "a");
        assertThat(file).exists();
        blobs.deleteKey("models", "b");
        assertThat(file).doesNotExist();
    }

    @Test
    void listingGivesEachKeysLatestVersionByPrefixInPages() throws IOException {
        put("models/a", "1");
        put("models/a", "2");
        put("models/b", "3");
        put("other", "4");
        BlobCatalog.Page first = blobs.list("models", "models/", Optional.empty(), 1);
        assertThat(first.keys()).extracting(BlobVersion::key).containsExactly("models/a");
        assertThat(first.keys().getFirst().version()).isEqualTo(2);
        BlobCatalog.Page rest = blobs.list("models", "models/", first.next(), 10);
        assertThat(rest.keys()).extracting(BlobVersion::key).containsExactly("models/b");
        assertThat(rest.next()).isEmpty();
    }

    @Test
    void aSplitAliasPicksByWeightTheSameVersionPerStickyIdAndCountsEachPick() throws IOException {
        put("churn", "v1");
        put("churn", "v2");
        blobs.setAlias("models", "churn", "prod", List.of(new BlobAlias.Target(1, 90), new BlobAlias.Target(2, 10)));
        Map<Integer, Integer> picks = new HashMap<>();
        for (int i = 0; i < 200; i++) {
            int v = blobs.resolve("models", "churn", "prod", Optional.of("caller-" + i), true).version();
            picks.merge(v, 1, Integer::sum);
            assertThat(blobs.resolve("models", "churn", "prod", Optional.of("caller-" + i), false).version()).isEqualTo(v);
        }
        assertThat(picks.get(1)).isBetween(150, 199);
        assertThat(picks.get(2)).isBetween(1, 50);
        BlobAlias alias = blobs.alias("models", "churn", "prod").orElseThrow();
        assertThat(alias.calls()).containsEntry(1, (long) picks.get(1)).containsEntry(2, (long) picks.get(2));
    }

    @Test
    void anAliasMovesAndAVersionItNamesCannotBeDeleted() throws IOException {
        put("churn", "v1");
        put("churn", "v2");
        blobs.setAlias("models", "churn", "prod", List.of(new BlobAlias.Target(1, 100)));
        assertThat(blobs.resolve("models", "churn", "prod", Optional.empty(), false).version()).isEqualTo(1);
        assertThatThrownBy(() -> blobs.deleteVersion("models", "churn", 1)).isInstanceOf(BlobRefused.class)
                .hasMessageContaining("named by the alias(es) prod");
        blobs.setAlias("models", "churn", "prod", List.of(new BlobAlias.Target(2, 100)));
        assertThat(blobs.resolve("models", "churn", "prod", Optional.empty(), false).version()).isEqualTo(2);
        assertThat(blobs.deleteVersion("models", "churn", 1)).isTrue();
    }

    @Test
    void badSplitsAndUnknownVersionsAreRefusedSayingWhatAnAliasIs() throws IOException {
        put("churn", "v1");
        put("churn", "v2");
        assertThatThrownBy(() -> blobs.setAlias("models", "churn", "prod", List.of(new BlobAlias.Target(1, 90), new BlobAlias.Target(2, 20))))
                .hasMessageContaining("add up to 110, not 100");
        assertThatThrownBy(() -> blobs.setAlias("models", "churn", "prod", List.of(new BlobAlias.Target(1, 50), new BlobAlias.Target(1, 50))))
                .hasMessageContaining("twice");
        assertThatThrownBy(() -> blobs.setAlias("models", "churn", "prod", List.of(new BlobAlias.Target(9, 100))))
                .isInstanceOf(BlobRefused.class).hasMessageContaining("has no version 9 (its versions: [2, 1])");
        assertThatThrownBy(() -> blobs.resolve("models", "churn", "staging", Optional.empty(), false))
                .hasMessageContaining("has no alias 'staging' (it has none)");
    }

    @Test
    void aBlobOverTheLimitIsRefusedAndLeavesNothing() {
        assertThatThrownBy(() -> blobs.put("models", "big", new ByteArrayInputStream(new byte[100]), 10, Optional.empty(), Optional.empty()))
                .isInstanceOf(BlobRefused.class).hasMessageContaining("over this server's limit of 10 bytes");
        assertThat(blobs.latest("models", "big")).isEmpty();
        assertThat(dir.resolve("blobs/incoming")).isEmptyDirectory();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "../x", "a/../b", "./a", "a//b", "/abs", "a/", "a@prod", "a:versions", "a\\b", "tab\there"})
    void keysThatCouldEscapeOrConfuseAreRefused(String key) {
        assertThatThrownBy(() -> BlobNames.checkKey(key)).isInstanceOf(BlobRefused.class).hasMessageContaining("a key is 1-1024 bytes");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Models", "-x", "a/b", "..", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
    void badBucketNamesAreRefused(String bucket) {
        assertThatThrownBy(() -> BlobNames.checkBucket(bucket)).isInstanceOf(BlobRefused.class).hasMessageContaining("a bucket is 1-63");
    }
}
