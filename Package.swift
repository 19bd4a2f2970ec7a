// swift-tools-version: 6.0
import PackageDescription

// Upcoming-feature flags on every Swift target (STYLE.md §5).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
// Hot-loop targets are built for AVX2/FMA/F16C (SWIFT-NOTES.md: baseline x86-64 is SSE2 only).
let kernelSettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
// AVX-512 (x86-64-v4 + VNNI) builds of a few kernels, called only after a runtime check (CPUFeatures).
let avx512Settings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-Xcc", "-march=x86-64-v4", "-Xcc", "-mavx512vnni"])]

let package = Package(
    name: "rag",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rag", targets: ["rag"]),
        .library(name: "RAG", targets: ["RAG"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Value types, protocols and errors shared by every module. No dependencies.
        .target(name: "RAGCore", swiftSettings: kernelSettings),
        // ICU sentence breaks behind a header that exposes only <stdint.h> types (SWIFT-NOTES.md).
        .target(
            name: "CICUShim",
            linkerSettings: [.linkedLibrary("icuuc"), .linkedLibrary("icudata")]
        ),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // The hot math: SIMD vector kernels and OpenBLAS wrappers.
        .target(name: "RAGKernels", dependencies: ["RAGCore", "COpenBLAS", "RAGKernelsAVX512", "CQuantDot", "CAttention", "CPrefetch"], swiftSettings: kernelSettings),
        // The quantized dot kernels' inner loops: C with intrinsics, AVX2 and AVX-512 VNNI builds
        // chosen at run time (per-function target attributes; Swift emits neither instruction).
        .target(name: "CQuantDot", cSettings: [.unsafeFlags(["-O3"])]),
        // Attention's inner loops over the f16 KV cache (F16C conversions feeding FMAs).
        .target(name: "CAttention", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "RAGKernelsAVX512", swiftSettings: avx512Settings),
        // The vector index: HNSW graph (value type), brute-force oracle, distances.
        .target(name: "RAGIndex", dependencies: ["RAGCore", "RAGKernels", "RAGKernelsAVX512", "CPrefetch"], swiftSettings: kernelSettings),
        // Cache-prefetch hints (header-only C: Swift has no prefetch).
        .target(name: "CPrefetch"),
        // The generator: GGUF reader, quantized kernels, transformer, BPE tokenizer, sampler.
        .target(name: "RAGLLM", dependencies: ["RAGCore", "RAGKernels"], swiftSettings: kernelSettings),
        // safetensors, WordPiece, the BERT sentence encoder.
        .target(name: "RAGEmbedding", dependencies: ["RAGCore", "RAGKernels"], swiftSettings: kernelSettings),
        // Loaders (txt, md, html, pdf, jsonl), normalisation, sentence-aware chunking.
        .target(name: "RAGText", dependencies: ["RAGCore", "CICUShim"], swiftSettings: swiftSettings),
        // The index file: GRDB migrations, documents, chunks, FTS5.
        .target(
            name: "RAGStorage",
            dependencies: ["RAGCore", "RAGIndex", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // The index in PostgreSQL with pgvector (the same store protocol as the SQLite file), for
        // several nodes sharing one corpus.
        .target(
            name: "RAGPostgres",
            dependencies: [
                "RAGCore", "RAGIndex", "RAGStorage", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A generator on another machine: any OpenAI-compatible chat-completions server.
        .target(
            name: "RAGRemote",
            dependencies: [
                "RAGCore", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The stages and their wiring point (RAGService): Ingest, Retrieve, Prompt (with the
        // built-in templates, a resource bundle), Answer, Evaluate.
        .target(
            name: "RAG",
            dependencies: ["RAGCore", "RAGText", "RAGStorage", "RAGPostgres", "RAGEmbedding", "RAGKernels", "RAGLLM", "RAGRemote", .product(name: "Mustache", package: "swift-mustache")],
            resources: [.copy("Prompt/templates")],
            swiftSettings: swiftSettings
        ),
        // Deterministic twins of the models (a hashing embedder, a scripted generator): tests
        // of wiring, routes, errors, queueing and streaming run with no model file.
        .target(name: "RAGTesting", dependencies: ["RAGCore"], swiftSettings: swiftSettings),
        // `rag serve`: the HTTP API (Hummingbird 2), SSE streaming, OpenAI-compatible routes, metrics.
        .target(
            name: "RAGServer",
            dependencies: [
                "RAG", "RAGCore", "RAGStorage", "RAGEmbedding", "RAGLLM", "RAGText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
            ],
            // The API's description, served as /openapi.json.
            resources: [.copy("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "rag",
            dependencies: [
                "RAG", "RAGServer", "RAGEmbedding", "RAGIndex", "RAGLLM", "RAGKernels", "RAGRemote", "RAGPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fuzz targets (`make fuzz` builds them with libFuzzer and AddressSanitizer; a plain
        // build replays files through them: the seed corpus and past findings, in `make test`).
        .executableTarget(
            name: "rag-fuzz",
            dependencies: ["RAGCore", "RAGLLM", "RAGEmbedding", "RAGText", "RAGStorage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RAGEmbeddingTests", dependencies: ["RAGEmbedding", "RAGKernels", "RAGKernelsAVX512", "RAGTesting"], exclude: ["Fixtures"],
            swiftSettings: kernelSettings
        ),
        .testTarget(name: "RAGLLMTests", dependencies: ["RAGLLM", "RAGCore", "RAGKernels", "RAGTesting"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "RAGIndexTests", dependencies: ["RAGIndex", "RAGTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "RAGCoreTests", dependencies: ["RAGCore"], swiftSettings: swiftSettings),
        .testTarget(name: "RAGTextTests", dependencies: ["RAGText"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RAGStorageTests",
            dependencies: [
                "RAGStorage", "RAGPostgres", "RAGIndex", "RAGTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RAGTests",
            dependencies: ["RAG", "RAGText", "RAGEmbedding", "RAGLLM", "RAGIndex", "RAGTesting", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"], swiftSettings: swiftSettings
        ),
        .testTarget(name: "ragTests", dependencies: ["RAG", "RAGEmbedding", "RAGTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RAGServerTests",
            dependencies: [
                "RAGServer", "RAG", "RAGCore", "RAGStorage", "RAGRemote", "RAGTesting", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
