/// Arithmetic on sizes read from files, which a crafted file can make overflow: nil instead of
/// a trap, for the parser to turn into a clear error.
public enum Checked {
    /// The product of `factors` (1 for none), or nil if one is negative or it overflows.
    public static func product(_ factors: some Sequence<Int>) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow else { return nil }
            result = next
        }
        return result
    }

    /// `a + b`, or nil if it overflows.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : result
    }
}
