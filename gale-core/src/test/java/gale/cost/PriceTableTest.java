package gale.cost;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Price tables: Gale's defaults, prices files in TOML or JSON laid over them, and every way a file can be wrong. */
class PriceTableTest {

    @TempDir
    Path dir;

    @Test
    void everyDefaultPriceSaysWhereItComesFromAndWhen() {
        PriceTable table = PriceTable.defaults();

        assertThat(table.platforms()).containsKeys("gcf-gen1", "gcf-gen2", "cloud-run-request", "cloud-run-instance", "lambda-x86",
                "lambda-arm", "e2-small", "e2-medium", "t3-small");
        assertThat(table.platforms().values()).allSatisfy(p -> {
            assertThat(p.source()).startsWith("https://");
            assertThat(p.asOf()).matches("\\d{4}-\\d{2}");
        });
        assertThat(table.freeTier()).isFalse();
        assertThat(PriceTable.withOverrides(List.of(table.toJson()))).isEqualTo(table); // what --show-prices prints reads back the same
    }

    @Test
    void aTomlFileChangesOnlyWhatItNamesAndMayAddAVm() throws IOException {
        Path file = write("prices.toml", """
                freeTier = true

                [platforms.lambda-x86]
                perGbSecond = 0.00002

                [platforms.hetzner-cx22]
                kind = "vm"
                label = "Hetzner CX22"
                perHour = 0.006
                vcpus = 2
                memoryGb = 4
                source = "https://www.hetzner.com/cloud"
                asOf = "2025-06"

                [thisMachine]
                label = "the lab's server"
                perHour = 0
                """);

        PriceTable table = PriceTable.withOverrides(List.of(PriceTable.readFile(file)));

        PerCallPlatform lambda = (PerCallPlatform) table.platforms().get("lambda-x86");
        assertThat(lambda.perGbSecond()).isEqualByComparingTo("0.00002");
        assertThat(lambda.perMillionRequests()).isEqualByComparingTo("0.20");
        assertThat(table.freeTier()).isTrue();
        assertThat(table.cheapestVm(BigDecimal.valueOf(3000), BigDecimal.ONE)).hasValueSatisfying(vm -> assertThat(vm.id()).isEqualTo("hetzner-cx22"));
        assertThat(table.thisMachine()).hasValueSatisfying(m -> assertThat(m.perHour()).isEqualByComparingTo("0"));
    }

    @Test
    void aJsonFileReadsTheSameKeys() throws IOException {
        Path file = write("prices.json", "{\"platforms\": {\"gcf-gen1\": {\"perGhzSecond\": 0.00002}}}");

        PriceTable table = PriceTable.withOverrides(List.of(PriceTable.readFile(file)));

        assertThat(((PerCallPlatform) table.platforms().get("gcf-gen1")).perGhzSecond()).isEqualByComparingTo("0.00002");
    }

    @Test
    void aBrokenFileIsRefusedNamingTheFileTheKeyAndWhatIsAllowed() throws IOException {
        assertRefused("[platforms.lambda-x86]\nperGbSecond = \"cheap\"\n", "platforms.lambda-x86.perGbSecond must be a number");
        assertRefused("[platforms.lambda-x86]\nperGbSecond = -1\n", "platforms.lambda-x86.perGbSecond must be at least 0, got -1");
        assertRefused("[platforms.lambda-x86]\nperGBSecond = 1\n", "unknown key platforms.lambda-x86.perGBSecond; the keys here are");
        assertRefused("[platforms.lambda-x86]\nroundingMs = 10\n", "roundingMs must be 1 or 100");
        assertRefused("[platforms.mine]\nkind = \"mainframe\"\n", "platforms.mine.kind must be one of per-call, cloud-run, vm");
        assertRefused("[platforms.mine]\nkind = \"vm\"\nperHour = 1\n", "platforms.mine.label is missing");
        assertRefused("[platforms.cloud-run-request]\nbilling = \"weekly\"\n", "billing must be \"request\" or \"instance\"");
        assertRefused("[platforms.gcf-gen1]\nmemoryTiers = []\n", "memoryTiers must be a non-empty list of tables");
        assertRefused("freeTier = \"yes\"\n", "freeTier must be true or false");
        assertRefused("currency = 3\n", "currency must be a string");
        assertRefused("discount = 0.5\n", "unknown key discount");
        assertRefused("[thisMachine]\nlabel = \"mine\"\n", "thisMachine.perHour is missing");

        Path garbled = write("garbled.toml", "[platforms.lambda-x86\nperGbSecond = 1");
        assertThatThrownBy(() -> PriceTable.readFile(garbled)).isInstanceOf(InvalidPricesException.class)
                .hasMessageContaining("prices file " + garbled + " is not valid TOML");
        Path notJson = write("prices.json", "{platforms");
        assertThatThrownBy(() -> PriceTable.readFile(notJson)).hasMessageContaining("is not valid JSON");
        assertThatThrownBy(() -> PriceTable.readFile(dir.resolve("absent.toml"))).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> PriceTable.withOverrides(List.of(new ObjectMapper().readTree("[1]"))))
                .hasMessageContaining("prices must be a table");
    }

    @Test
    void theDataDirsFileIsPricesTomlOrPricesJson() throws IOException {
        assertThat(PriceTable.dataDirFile(dir)).isEmpty();
        Path json = write("prices.json", "{}");
        assertThat(PriceTable.dataDirFile(dir)).contains(json);
        Path toml = write("prices.toml", "");
        assertThat(PriceTable.dataDirFile(dir)).contains(toml);
    }

    private void assertRefused(String toml, String message) throws IOException {
        Path file = write("bad-" + Math.abs(toml.hashCode()) + ".toml", toml);
        JsonNode tree = PriceTable.readFile(file);
        assertThatThrownBy(() -> PriceTable.withOverrides(List.of(tree))).as(toml).isInstanceOf(InvalidPricesException.class)
                .hasMessageContaining(message);
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }
}
