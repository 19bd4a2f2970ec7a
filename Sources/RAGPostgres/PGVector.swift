internal import NIOCore
internal import PostgresNIO

/// A vector as pgvector's binary format has it: the dimension count (int16), an unused int16,
/// then each component as a big-endian float4. Its type id is the database's own (`vector` is
/// an extension type), so it is a dynamic-type value.
struct PGVector: PostgresDynamicTypeEncodable {
    var values: [Float]
    var psqlType: PostgresDataType
    var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.reserveCapacity(minimumWritableBytes: 4 + 4 * values.count)
        buffer.writeInteger(Int16(values.count))
        buffer.writeInteger(Int16(0))
        for value in values { buffer.writeInteger(value.bitPattern) }
    }
}
