package gale.runtime.java;

import gale.config.DataSize;
import gale.runtime.DeployFailure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.jar.JarFile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The parts of the java21 runtime below a deploy; the whole runtime is tested end to end in gale.e2e.JavaFunctionTest. */
class JavaRuntimePartsTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "--memory {0} gives -Xmx{1}m")
    @CsvSource({"64MB, 32", "128MB, 64", "192MB, 96", "256MB, 160", "512MB, 416", "1GB, 928", "4GB, 4000"})
    void theHeapIsMemoryMinusWhatTheJvmNeedsBesidesIt(String memory, long heapMb) {
        assertThat(JvmOptions.heapMegabytes(DataSize.parse(memory))).isEqualTo(heapMb);
        assertThat(JvmOptions.forVersion(DataSize.parse(memory), Map.of())).contains("-Xmx" + heapMb + "m", "-XX:+UseSerialGC");
    }

    @Test
    void onlyC1CompilesUnlessTheFunctionSetsTieredCompilationItself() {
        var memory = DataSize.parse("256MB");

        assertThat(JvmOptions.forVersion(memory, Map.of())).contains("-XX:TieredStopAtLevel=1");
        assertThat(JvmOptions.forVersion(memory, Map.of("JAVA_TOOL_OPTIONS", "-Dx=1"))).contains("-XX:TieredStopAtLevel=1");
        assertThat(JvmOptions.forVersion(memory, Map.of("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=4")))
                .noneMatch(o -> o.contains("Tiered"));
        assertThat(JvmOptions.forVersion(memory, Map.of("JDK_JAVA_OPTIONS", "-XX:-TieredCompilation")))
                .noneMatch(o -> o.contains("Tiered"));
    }

    @Test
    void theClasspathIsTheJarsAtTheRootThenInLibEachSortedWithoutABundledGaleApi() throws Exception {
        for (String f : List.of("b.jar", "a.jar", "README.md", "lib/z.jar", "lib/c.jar", "lib/gale-api-0.1.jar", "lib/notes.txt")) {
            Files.createDirectories(tmp.resolve(f).getParent());
            Files.writeString(tmp.resolve(f), "x");
        }

        var classpath = FunctionClasspath.ofBundle(tmp);

        assertThat(classpath.jars()).extracting(p -> tmp.relativize(p).toString())
                .containsExactly("a.jar", "b.jar", "lib/c.jar", "lib/z.jar");
        assertThat(classpath.withApi(Path.of("/rt/gale-api.jar"))).startsWith("/rt/gale-api.jar:" + tmp.resolve("a.jar"));
    }

    @Test
    void aBundleWithoutJarsSaysWhatToDeploy() {
        assertThatThrownBy(() -> FunctionClasspath.ofBundle(tmp)).isInstanceOf(DeployFailure.class)
                .hasMessageContaining("the bundle has no jar").hasMessageContaining("Maven project");
    }

    @Test
    void aSavedClasspathIsReusedOnlyWhileItsJarsExist() throws Exception {
        Path jar = Files.writeString(tmp.resolve("app.jar"), "x");
        Path javaDir = tmp.resolve("java");
        new FunctionClasspath(List.of(jar)).save(javaDir);

        assertThat(FunctionClasspath.load(javaDir)).hasValue(new FunctionClasspath(List.of(jar)));
        Files.delete(jar);
        assertThat(FunctionClasspath.load(javaDir)).isEmpty();
        assertThat(FunctionClasspath.load(tmp.resolve("never-prepared"))).isEmpty();
    }

    @Test
    void theApiJarIsPackedFromAClassesFolderTheSameWayEveryTime() throws Exception {
        Path classes = tmp.resolve("classes");
        for (String f : List.of("gale/api/internal/Bootstrap.class", "gale/api/Request.class", "gale/api/internal/gale-api.properties",
                "other/Unrelated.class")) {
            Files.createDirectories(classes.resolve(f).getParent());
            Files.writeString(classes.resolve(f), f);
        }

        byte[] first = ApiJar.pack(classes);
        byte[] second = ApiJar.pack(classes);
        Path jar = Files.write(tmp.resolve("gale-api.jar"), first);

        assertThat(second).isEqualTo(first);
        try (JarFile file = new JarFile(jar.toFile())) {
            assertThat(file.stream().map(e -> e.getName()).toList()).containsExactly("META-INF/MANIFEST.MF",
                    "gale/api/Request.class", "gale/api/internal/Bootstrap.class", "gale/api/internal/gale-api.properties");
        }
    }

    @Test
    void theApiClassesAreTakenOutOfGalesOwnJarLeavingEverythingElse() throws Exception {
        Path galeJar = tmp.resolve("gale.jar");
        try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(galeJar))) {
            for (String name : List.of("gale/cli/Main.class", "gale/api/internal/Bootstrap.class", "gale/api/HttpFunction.class",
                    "com/fasterxml/jackson/Json.class", "gale/apiary/NotApi.class")) {
                out.putNextEntry(new java.util.zip.ZipEntry(name));
                out.write(name.getBytes());
                out.closeEntry();
            }
        }

        Path jar = Files.write(tmp.resolve("gale-api.jar"), ApiJar.pack(galeJar));

        try (JarFile file = new JarFile(jar.toFile())) {
            assertThat(file.stream().map(e -> e.getName()).toList())
                    .containsExactly("META-INF/MANIFEST.MF", "gale/api/HttpFunction.class", "gale/api/internal/Bootstrap.class");
        }
    }

    @Test
    void somethingThatIsNotGaleApiIsRefused() throws Exception {
        Files.createDirectories(tmp.resolve("classes/other"));

        assertThatThrownBy(() -> ApiJar.pack(tmp.resolve("classes"))).hasMessageContaining("it is not gale-api");
    }

    @Test
    void theApiJarIsRewrittenOnlyWhenItsContentChanged() throws Exception {
        Path classes = tmp.resolve("classes");
        Files.createDirectories(classes.resolve("gale/api/internal"));
        Files.writeString(classes.resolve("gale/api/internal/Bootstrap.class"), "v1");
        String previous = System.setProperty(ApiJar.OVERRIDE_PROPERTY, classes.toString());
        try {
            Path jar = ApiJar.install(tmp.resolve("runtime")).orElseThrow();
            long written = Files.getLastModifiedTime(jar).toMillis();
            Files.setLastModifiedTime(jar, java.nio.file.attribute.FileTime.fromMillis(written - 60_000));

            ApiJar.install(tmp.resolve("runtime"));
            long unchanged = Files.getLastModifiedTime(jar).toMillis();
            Files.writeString(classes.resolve("gale/api/internal/Bootstrap.class"), "v2");
            ApiJar.install(tmp.resolve("runtime"));

            assertThat(unchanged).as("same classes: the jar (and archives made against it) stay valid").isEqualTo(written - 60_000);
            assertThat(Files.getLastModifiedTime(jar).toMillis()).isGreaterThan(unchanged);
        } finally {
            if (previous == null) System.clearProperty(ApiJar.OVERRIDE_PROPERTY);
            else System.setProperty(ApiJar.OVERRIDE_PROPERTY, previous);
        }
    }

    @Test
    void mavensErrorLinesAreKeptWithoutItsBoilerplate() {
        String output = """
                WARNING: A terminally deprecated method in sun.misc.Unsafe has been called
                [ERROR] COMPILATION ERROR :\s
                [ERROR] /p/src/main/java/example/Broken.java:[3,70] cannot find symbol
                [ERROR]   symbol:   variable undefinedVariable
                [ERROR] -> [Help 1]
                [ERROR]\s
                [ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.
                [ERROR] Re-run Maven using the -X switch to enable full debug logging.
                [ERROR] For more information about the errors and possible solutions, please read the following articles:
                [ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/MojoFailureException
                """;

        assertThat(MavenBuild.errorLines(output)).isEqualTo("COMPILATION ERROR : | /p/src/main/java/example/Broken.java:[3,70] "
                + "cannot find symbol | symbol:   variable undefinedVariable");
        assertThat(MavenBuild.errorLines("WARNING: noise\nmvn: command failed\n")).isEqualTo("mvn: command failed");
    }

    @Test
    void galesMavenIsGaleMavenElseTheCheckoutsWrapperElseMvnOnThePath() throws IOException {
        Path checkout = tmp.resolve("checkout");
        Files.createDirectories(checkout.resolve(".mvn/wrapper"));
        Files.createDirectories(checkout.resolve("gale-core/target/classes"));
        Path mvnw = Files.writeString(checkout.resolve("mvnw"), "#!/bin/sh\n");
        mvnw.toFile().setExecutable(true);
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path mvn = Files.writeString(bin.resolve("mvn"), "#!/bin/sh\n");
        mvn.toFile().setExecutable(true);
        var classes = Optional.of(checkout.resolve("gale-core/target/classes"));

        assertThat(MavenBuild.locate(Map.of("GALE_MAVEN", "/opt/maven/bin/mvn", "PATH", bin.toString()), classes))
                .containsExactly("/opt/maven/bin/mvn");
        assertThat(MavenBuild.locate(Map.of("PATH", bin.toString()), classes)).containsExactly(mvnw.toString());
        assertThat(MavenBuild.locate(Map.of("PATH", bin.toString()), Optional.empty())).containsExactly(mvn.toString());
        assertThat(MavenBuild.locate(Map.of("PATH", tmp.resolve("nothing").toString()), Optional.empty())).isEmpty();
    }

    @Test
    void archivesAreMadeForOneJvmOneSetOfFlagsAndOneClasspath() {
        var aot = ClassDataArchive.Kind.AOT_CACHE;
        var a = ClassDataArchive.of(tmp, aot, "/jdk/bin/java", List.of("-Xmx160m"), "/a.jar", "100@1");
        var same = ClassDataArchive.of(tmp, aot, "/jdk/bin/java", List.of("-Xmx160m"), "/a.jar", "100@1");
        var otherJvm = ClassDataArchive.of(tmp, aot, "/jdk26/bin/java", List.of("-Xmx160m"), "/a.jar", "100@1");
        var otherFlags = ClassDataArchive.of(tmp, aot, "/jdk/bin/java", List.of("-Xmx416m"), "/a.jar", "100@1");
        var otherJars = ClassDataArchive.of(tmp, aot, "/jdk/bin/java", List.of("-Xmx160m"), "/b.jar", "100@1");
        var newApiJar = ClassDataArchive.of(tmp, aot, "/jdk/bin/java", List.of("-Xmx160m"), "/a.jar", "120@2");
        var cds = ClassDataArchive.of(tmp, ClassDataArchive.Kind.APP_CDS, "/jdk/bin/java", List.of("-Xmx160m"), "/a.jar", "100@1");

        assertThat(a.file()).isEqualTo(same.file());
        assertThat(List.of(otherJvm.file(), otherFlags.file(), otherJars.file(), newApiJar.file(), cds.file())).doesNotContain(a.file());
        assertThat(a.useFlag()).startsWith("-XX:AOTCache=").endsWith(".aot");
        assertThat(cds.useFlag()).startsWith("-XX:SharedArchiveFile=").endsWith(".jsa");
        assertThat(ClassDataArchive.Kind.forJava(21)).isEqualTo(ClassDataArchive.Kind.APP_CDS);
        assertThat(ClassDataArchive.Kind.forJava(25)).isEqualTo(ClassDataArchive.Kind.AOT_CACHE);
    }
}
