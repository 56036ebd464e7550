package gale.client;

import org.eclipse.jgit.ignore.FastIgnoreRule;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a deploy leaves out of a folder: the patterns of its {@code .galeignore}, else of its
 * {@code .gcloudignore} (so a Cloud Functions folder deploys as {@code gcloud functions deploy}
 * would upload it), in gitignore syntax, read by JGit's rules: the last matching pattern decides,
 * {@code !} re-includes, a trailing {@code /} matches folders only. As in gcloud, a line
 * {@code #!include:.gitignore} takes in that file's patterns, and the ignore file itself is left out.
 */
final class IgnoreRules {

    static final List<String> FILES = List.of(".galeignore", ".gcloudignore");
    private static final String INCLUDE = "#!include:";

    private final List<FastIgnoreRule> rules;

    private IgnoreRules(List<FastIgnoreRule> rules) {
        this.rules = rules;
    }

    /** The rules of the folder's ignore file; none when it has neither. */
    static IgnoreRules of(Path folder) {
        for (String name : FILES) {
            Path file = folder.resolve(name);
            if (Files.isRegularFile(file)) {
                List<FastIgnoreRule> rules = new ArrayList<>();
                rules.add(new FastIgnoreRule("/" + name));
                read(folder, file, rules, 0);
                return new IgnoreRules(rules);
            }
        }
        return new IgnoreRules(List.of());
    }

    /** @param path relative to the folder, with '/' separators */
    boolean ignores(String path, boolean directory) {
        for (int i = rules.size() - 1; i >= 0; i--) {
            FastIgnoreRule rule = rules.get(i);
            if (rule.isMatch(path, directory)) return rule.getResult();
        }
        return false;
    }

    private static void read(Path folder, Path file, List<FastIgnoreRule> rules, int depth) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        for (String line : lines) {
            if (line.startsWith(INCLUDE)) {
                Path included = folder.resolve(line.substring(INCLUDE.length()).strip()).normalize();
                if (depth < 4 && included.startsWith(folder) && Files.isRegularFile(included)) read(folder, included, rules, depth + 1);
                continue;
            }
            FastIgnoreRule rule = new FastIgnoreRule(line);
            if (!rule.isEmpty()) rules.add(rule);
        }
    }
}
