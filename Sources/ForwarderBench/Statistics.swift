/// Median, min and max of a sample.
struct Summary {
    let median: Double
    let min: Double
    let max: Double

    init(_ values: [Double]) {
        precondition(!values.isEmpty)
        let sorted = values.sorted()
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        min = sorted[0]
        max = sorted[sorted.count - 1]
    }
}
