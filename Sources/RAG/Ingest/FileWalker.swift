internal import Foundation
#if canImport(Glibc)
internal import Glibc
#endif
internal import RAGCore

/// Finds the files to ingest below the given paths: recursive, hidden entries skipped, symbolic
/// links followed once (a link back up the tree is not a loop) and only to places inside the
/// given folders, regular files only (a FIFO or a device named `*.txt` is skipped, not read),
/// `--include`/`--exclude` globs.
struct FileWalker {
    struct Found {
        var path: String
        var format: DocumentFormat
        /// Bytes, for progress.
        var size: Int64
    }

    var include: [String] = []
    var exclude: [String] = []

    /// Files with a format rag reads, in a stable order, and what was skipped with why.
    func walk(_ roots: [String]) -> (files: [Found], skipped: [IngestReport.Skip], directories: [String]) {
        var files: [Found] = []
        var skipped: [IngestReport.Skip] = []
        var directories: [String] = []
        var seenFiles = Set<String>()
        var visitedDirectories = Set<String>()
        let fm = FileManager.default
        // Where the given folders really are: links may lead anywhere inside them, not out.
        let realRoots = roots.filter { var d: ObjCBool = false; return fm.fileExists(atPath: $0, isDirectory: &d) && d.boolValue }
            .map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }

        func consider(_ path: String, root: String, explicit: Bool) {
            let relative = path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : (path as NSString).lastPathComponent
            if !explicit, !matches(relative) { return }
            guard let format = DocumentFormat(fileName: (path as NSString).lastPathComponent) else {
                let ext = (path as NSString).pathExtension
                skipped.append(.init(path: path, reason: ext.isEmpty ? "unsupported file type (no extension)" : "unsupported file type '.\(ext)'"))
                return
            }
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            if !explicit, let outside = Self.outside(real, of: realRoots) {
                skipped.append(.init(path: path, reason: outside))
                return
            }
            // stat follows a link: the target's kind and size, not the link's.
            var info = stat()
            guard stat(path, &info) == 0 else {
                skipped.append(.init(path: path, reason: "cannot read its attributes (\(String(cString: strerror(errno))))"))
                return
            }
            guard info.st_mode & S_IFMT == S_IFREG else {
                skipped.append(.init(path: path, reason: "not a regular file (\(Self.kind(info.st_mode))); only regular files are read"))
                return
            }
            guard seenFiles.insert(real).inserted else { return }
            files.append(Found(path: path, format: format, size: Int64(info.st_size)))
        }

        func walkDirectory(_ directory: String, root: String) {
            let real = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
            if let outside = Self.outside(real, of: realRoots) {
                skipped.append(.init(path: directory, reason: outside))
                return
            }
            guard visitedDirectories.insert(real).inserted else { return }  // a link loop or a second route in
            let names: [String]
            do {
                names = try fm.contentsOfDirectory(atPath: directory).sorted()
            } catch {
                skipped.append(.init(path: directory, reason: "cannot list the folder (permission denied?)"))
                return
            }
            for name in names where !name.hasPrefix(".") {
                let path = directory + "/" + name
                var isDirectory: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    skipped.append(.init(path: path, reason: "broken symbolic link"))
                    continue
                }
                if isDirectory.boolValue {
                    walkDirectory(path, root: root)
                } else {
                    consider(path, root: root, explicit: false)
                }
            }
        }

        for root in roots {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: root, isDirectory: &isDirectory) else {
                skipped.append(.init(path: root, reason: "no such file or folder"))
                continue
            }
            if isDirectory.boolValue {
                directories.append(root)
                walkDirectory(root, root: root)
            } else {
                consider(root, root: root, explicit: true)
            }
        }
        return (files, skipped, directories)
    }

    /// Why a resolved path is not walked, when it lies outside every resolved root.
    static func outside(_ real: String, of roots: [String]) -> String? {
        let inside = roots.contains { real == $0 || real.hasPrefix($0 == "/" ? "/" : $0 + "/") }
        return inside ? nil : "a symbolic link to \(real), outside the folders being ingested"
    }

    /// A file's size and modification time (seconds since 1970, as Foundation gives them),
    /// through symbolic links.
    static func sizeAndModificationTime(_ path: String) -> (size: Int64, mtime: Double)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (Int64(info.st_size), Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }

    /// A file type's name, for the skip reason.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFDIR: "a folder"
        default: "mode \(String(mode, radix: 8))"
        }
    }

    /// Whether a path (relative to its root) passes the include and exclude globs; a glob is
    /// tried against the relative path and against the file name.
    func matches(_ relative: String) -> Bool {
        let name = (relative as NSString).lastPathComponent
        func glob(_ pattern: String) -> Bool {
            fnmatch(pattern, relative, 0) == 0 || fnmatch(pattern, name, 0) == 0
        }
        if !include.isEmpty, !include.contains(where: glob) { return false }
        return !exclude.contains(where: glob)
    }
}
