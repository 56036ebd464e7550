package gale.registry;

import gale.config.DataSize;

/**
 * How much a bundle may cost the server, checked while it streams in and while it is
 * unpacked, so a hostile zip costs at most these bytes and files before it is refused.
 *
 * <p>The defaults fit a function folder with its models: pickled models and data files of
 * hundreds of MB pass; dependencies come from requirements.txt into the version's
 * environment and count against none of this. Every version keeps its zip and its unpacked
 * copy, so ten versions at the limit already take 20 GB.
 *
 * @param upload   the zip as uploaded; over it the upload is cut off with 413 ({@code gale server --max-bundle})
 * @param expanded the bytes the zip's files unpack to, counted as they are written ({@code --max-bundle-expanded})
 * @param files    entries in the zip, folders included, refused before anything is written ({@code --max-bundle-files})
 */
public record BundleLimits(DataSize upload, DataSize expanded, int files) {

    public static final BundleLimits DEFAULT = new BundleLimits(DataSize.ofMegabytes(1024), DataSize.ofMegabytes(1024), 10_000);

    public BundleLimits {
        if (upload == null || upload.bytes() <= 0) throw new IllegalArgumentException("the bundle upload limit must be positive, got " + upload);
        if (expanded == null || expanded.bytes() <= 0) throw new IllegalArgumentException("the expanded bundle limit must be positive, got " + expanded);
        if (files <= 0) throw new IllegalArgumentException("the bundle file limit must be positive, got " + files);
    }

    String uploadRefused() {
        return "the bundle is over this server's upload limit of " + upload + "; make it smaller (leave data the "
                + "function does not need out of the folder), or start the server with a higher --max-bundle";
    }

    String expandedRefused(String what) {
        return "the bundle " + what + " more than this server's limit of " + expanded + " unpacked; make it smaller, "
                + "or start the server with a higher --max-bundle-expanded";
    }

    String tooManyFiles(int entries) {
        return "the bundle has " + entries + " entries, over this server's limit of " + files + "; zip only what the "
                + "function needs (dependencies belong in requirements.txt), or start the server with a higher --max-bundle-files";
    }
}
