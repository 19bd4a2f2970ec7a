import Testing
@testable import RAGServer
