internal import Foundation

extension Double {
    /// The value to `places` decimal places, as reports and JSON show figures (0.12345 → 0.123
    /// at 3).
    public func rounded(places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
