internal import Foundation
#if canImport(Glibc)
internal import Glibc
#endif
internal import RAGCore

/// Finds the files to ingest below the given paths: recursive, hidden entries skipped, symbolic
/// links followed once (a link back up the tree is not a loop), `--include`/`--exclude` globs.
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

        func consider(_ path: String, root: String, explicit: Bool) {
            let relative = path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : (path as NSString).lastPathComponent
            if !explicit, !matches(relative) { return }
            guard let format = DocumentFormat(fileName: (path as NSString).lastPathComponent) else {
                let ext = (path as NSString).pathExtension
                skipped.append(.init(path: path, reason: ext.isEmpty ? "unsupported file type (no extension)" : "unsupported file type '.\(ext)'"))
                return
            }
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            guard seenFiles.insert(real).inserted else { return }
            let size = (try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)??.int64Value ?? 0
            files.append(Found(path: path, format: format, size: size))
        }

        func walkDirectory(_ directory: String, root: String) {
            let real = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
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
