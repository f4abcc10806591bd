import PacketFixtures
import XCTest
@testable import Nat44

/// The generic table under the session, neighbour and fragment tables, against a dictionary:
/// chains stay consistent through removals from their middle, slots are reused, a full table
/// refuses, the cursor visits every slot.
final class IndexTableTests: XCTestCase {
    struct Key: IndexTableKey {
        var value: UInt32
        var hashBits: UInt64 { UInt64(value) }
    }

    struct Entry: IndexTableEntry {
        var id: UInt32 = 0
        var payload: UInt64 = 0
        var key: Key { Key(value: id) }
    }

    func testMatchesADictionaryThroughInsertsAndRemovals() {
        var table = IndexTable<Entry>(capacity: 500)
        var model: [UInt32: (TableIndex<Entry>, UInt64)] = [:]
        var rng = TestRNG(seed: 0x1DE_7AB1E)
        for step in 0..<20_000 {
            let id = UInt32(rng.next() % 800)
            if let (i, payload) = model[id] {
                XCTAssertEqual(table.find(Key(value: id)), i)
                XCTAssertEqual(table[i].payload, payload)
                if rng.next() % 2 == 0 {
                    table.remove(i)
                    model[id] = nil
                }
            } else {
                XCTAssertNil(table.find(Key(value: id)))
                let payload = rng.next()
                if let i = table.insert(Entry(id: id, payload: payload)) {
                    model[id] = (i, payload)
                } else {
                    XCTAssertEqual(model.count, 500, "refused with room left, step \(step)")
                }
            }
            XCTAssertEqual(table.count, model.count)
        }
        for (id, (i, payload)) in model {
            XCTAssertEqual(table.find(Key(value: id)), i)
            XCTAssertEqual(table[i].payload, payload)
        }
    }

    func testFullTableRefusesAndFreedSlotsComeBack() throws {
        var table = IndexTable<Entry>(capacity: 3)
        let a = try XCTUnwrap(table.insert(Entry(id: 1)))
        _ = try XCTUnwrap(table.insert(Entry(id: 2)))
        _ = try XCTUnwrap(table.insert(Entry(id: 3)))
        XCTAssertTrue(table.isFull)
        XCTAssertNil(table.insert(Entry(id: 4)))
        table.remove(a)
        XCTAssertNil(table.find(Key(value: 1)))
        XCTAssertEqual(table.insert(Entry(id: 4)), a, "the freed slot is handed out next")
        XCTAssertEqual(table.find(Key(value: 4)), a)
    }

    func testCursorVisitsEverySlotAndReportsOccupants() throws {
        var table = IndexTable<Entry>(capacity: 5)
        let first = try XCTUnwrap(table.insert(Entry(id: 10)))
        let second = try XCTUnwrap(table.insert(Entry(id: 11)))
        var seen: [TableIndex<Entry>] = []
        for _ in 0..<10 {
            if let i = table.advanceCursor() { seen.append(i) }
        }
        XCTAssertEqual(seen, [first, second, first, second], "slots 0 and 1 on each of two rounds")
        XCTAssertEqual(table.occupant(ofSlot: 1), second)
        XCTAssertNil(table.occupant(ofSlot: 2))
    }
}
