import PostgresNIO

/// An array bound as one PostgreSQL array parameter whose elements may be NULL, in PostgreSQL's
/// binary array format (`array_recv`: dimensions, a has-nulls flag, the element type, then each
/// dimension's length and lower bound, then each element as its length and bytes, a NULL as the
/// length -1; "Binary I/O" of arrays, src/backend/utils/adt/arrayfuncs.c).
///
/// postgres-nio 1.x encodes arrays of non-optional elements only (`Array: PostgresEncodable where
/// Element: PostgresArrayEncodable`); this is the same encoding with NULLs, each element written
/// by postgres-nio's own encoder. It lets a statement take a column that may be NULL as one array
/// to `unnest`, where the outcome statement read JSON (`json_to_recordset`), which the client
/// encoded and the server parsed for every value.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable, PostgresDynamicTypeEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            let start = buffer.writerIndex
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex)
        }
    }
}
