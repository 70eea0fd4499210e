// SPDX-License-Identifier: MIT
// OURS (basis-venue-morpho test support), not a Morpho artifact: no npm package ships Morpho's AdaptiveCurveIrm
// without hardhat. It follows Morpho's AdaptiveCurveIrm (morpho-org/morpho-blue-irm, MIT) line for line: ExpLib.wExp,
// ConstantsLib (curve steepness 4, adjustment speed 50/year, target utilization 90 %, initial rate at target
// 4 %/year, bounds 0.1 %..200 %/year), _borrowRate with the trapezoid average, _curve, _newRateAtTarget; and it
// speaks the real IIrm interface of @morpho-org/morpho-blue.
pragma solidity 0.8.19;

import {IIrm} from "@morpho-org/morpho-blue/src/interfaces/IIrm.sol";
import {Id, MarketParams, Market} from "@morpho-org/morpho-blue/src/interfaces/IMorpho.sol";
import {MarketParamsLib} from "@morpho-org/morpho-blue/src/libraries/MarketParamsLib.sol";

contract AdaptiveCurveIrm is IIrm {
    using MarketParamsLib for MarketParams;

    int256 internal constant WAD = 1e18;
    int256 public constant CURVE_STEEPNESS = 4 ether;
    int256 public constant ADJUSTMENT_SPEED = 50 ether / int256(365 days);
    int256 public constant TARGET_UTILIZATION = 0.9 ether;
    int256 public constant INITIAL_RATE_AT_TARGET = 0.04 ether / int256(365 days);
    int256 public constant MIN_RATE_AT_TARGET = 0.001 ether / int256(365 days);
    int256 public constant MAX_RATE_AT_TARGET = 2.0 ether / int256(365 days);
    int256 internal constant LN_2_INT = 0.693147180559945309 ether;
    int256 internal constant LN_WEI_INT = -41.446531673892822312 ether;
    int256 internal constant WEXP_UPPER_BOUND = 93.859467695000404319 ether;
    int256 internal constant WEXP_UPPER_VALUE = 57716089161558943949701069502944508345128.422502756744429568 ether;

    address public immutable MORPHO;
    mapping(Id => int256) public rateAtTarget;

    constructor(address morpho) {
        require(morpho != address(0), "zero address");
        MORPHO = morpho;
    }

    function borrowRateView(MarketParams memory marketParams, Market memory market) external view returns (uint256) {
        (uint256 avgRate,) = _borrowRate(marketParams.id(), market);
        return avgRate;
    }

    function borrowRate(MarketParams memory marketParams, Market memory market) external returns (uint256) {
        require(msg.sender == MORPHO, "not Morpho");
        Id id = marketParams.id();
        (uint256 avgRate, int256 endRateAtTarget) = _borrowRate(id, market);
        rateAtTarget[id] = endRateAtTarget;
        return avgRate;
    }

    function _borrowRate(Id id, Market memory market) private view returns (uint256, int256) {
        int256 utilization = int256(
            market.totalSupplyAssets > 0 ? uint256(market.totalBorrowAssets) * 1e18 / market.totalSupplyAssets : 0
        );
        int256 errNormFactor = utilization > TARGET_UTILIZATION ? WAD - TARGET_UTILIZATION : TARGET_UTILIZATION;
        int256 err = _wDivToZero(utilization - TARGET_UTILIZATION, errNormFactor);
        int256 startRateAtTarget = rateAtTarget[id];
        int256 avgRateAtTarget;
        int256 endRateAtTarget;
        if (startRateAtTarget == 0) {
            avgRateAtTarget = INITIAL_RATE_AT_TARGET;
            endRateAtTarget = INITIAL_RATE_AT_TARGET;
        } else {
            int256 speed = _wMulToZero(ADJUSTMENT_SPEED, err);
            int256 elapsed = int256(block.timestamp - market.lastUpdate);
            int256 linearAdaptation = speed * elapsed;
            if (linearAdaptation == 0) {
                avgRateAtTarget = startRateAtTarget;
                endRateAtTarget = startRateAtTarget;
            } else {
                endRateAtTarget = _newRateAtTarget(startRateAtTarget, linearAdaptation);
                int256 midRateAtTarget = _newRateAtTarget(startRateAtTarget, linearAdaptation / 2);
                avgRateAtTarget = (startRateAtTarget + endRateAtTarget + 2 * midRateAtTarget) / 4;
            }
        }
        return (uint256(_curve(avgRateAtTarget, err)), endRateAtTarget);
    }

    function _curve(int256 _rateAtTarget, int256 err) private pure returns (int256) {
        int256 coeff = err < 0 ? WAD - _wDivToZero(WAD, CURVE_STEEPNESS) : CURVE_STEEPNESS - WAD;
        return _wMulToZero(_wMulToZero(coeff, err) + WAD, _rateAtTarget);
    }

    function _newRateAtTarget(int256 startRateAtTarget, int256 linearAdaptation) private pure returns (int256) {
        int256 r = _wMulToZero(startRateAtTarget, _wExp(linearAdaptation));
        if (r > MAX_RATE_AT_TARGET) return MAX_RATE_AT_TARGET;
        if (r < MIN_RATE_AT_TARGET) return MIN_RATE_AT_TARGET;
        return r;
    }

    function _wMulToZero(int256 x, int256 y) private pure returns (int256) {
        return (x * y) / WAD;
    }

    function _wDivToZero(int256 x, int256 y) private pure returns (int256) {
        return (x * WAD) / y;
    }

    function _wExp(int256 x) private pure returns (int256) {
        unchecked {
            if (x < LN_WEI_INT) return 0;
            if (x >= WEXP_UPPER_BOUND) return WEXP_UPPER_VALUE;
            int256 roundingAdjustment = (x < 0) ? -(LN_2_INT / 2) : (LN_2_INT / 2);
            int256 q = (x + roundingAdjustment) / LN_2_INT;
            int256 r = x - q * LN_2_INT;
            int256 expR = WAD + r + (r * r) / WAD / 2;
            if (q >= 0) return expR << uint256(q);
            else return expR >> uint256(-q);
        }
    }
}
