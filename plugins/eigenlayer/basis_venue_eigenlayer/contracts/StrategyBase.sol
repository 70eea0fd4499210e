// SPDX-License-Identifier: MIT
// Not EigenLayer's code: ours, for basis-core tests. A strategy speaking the ABI of EigenLayer's StrategyBase
// (src/contracts/strategies/StrategyBase.sol of Layr-Labs/eigenlayer-contracts) with its share math: virtual
// shares and balance offsets of 1e3 (SHARES_OFFSET, BALANCE_OFFSET), deposit = amount x (totalShares + 1e3) /
// (balance + 1e3 - amount) rounded down (NewSharesZero when 0), withdraw = (balance + 1e3) x shares /
// (totalShares + 1e3) rounded down, ExchangeRateEmitted after each. Only the StrategyManager deposits and
// withdraws. No proxy, pausing or TVL limits.
pragma solidity ^0.8.20;

interface IERC20Like {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

interface IStrategyManagerForStrategy {
    function stakerDepositShares(address user, address strategy) external view returns (uint256);
}

contract StrategyBase {
    uint256 internal constant SHARES_OFFSET = 1e3;
    uint256 internal constant BALANCE_OFFSET = 1e3;
    uint256 internal constant MAX_TOTAL_SHARES = 1e38 - 1;

    IStrategyManagerForStrategy public immutable strategyManager;
    IERC20Like public immutable underlyingToken;
    uint256 public totalShares;

    event ExchangeRateEmitted(uint256 rate);
    event StrategyTokenSet(address token, uint8 decimals);

    error OnlyStrategyManager();
    error NewSharesZero();
    error OnlyUnderlyingToken();
    error TotalSharesExceedsMax();
    error WithdrawalAmountExceedsTotalDeposits();

    constructor(address _strategyManager, address _underlyingToken) {
        strategyManager = IStrategyManagerForStrategy(_strategyManager);
        underlyingToken = IERC20Like(_underlyingToken);
        emit StrategyTokenSet(_underlyingToken, 18);
    }

    modifier onlyStrategyManager() {
        if (msg.sender != address(strategyManager)) revert OnlyStrategyManager();
        _;
    }

    function deposit(address token, uint256 amount) external onlyStrategyManager returns (uint256 newShares) {
        if (token != address(underlyingToken)) revert OnlyUnderlyingToken();
        uint256 priorTotalShares = totalShares;
        uint256 virtualShareAmount = priorTotalShares + SHARES_OFFSET;
        uint256 virtualTokenBalance = _tokenBalance() + BALANCE_OFFSET;
        uint256 virtualPriorTokenBalance = virtualTokenBalance - amount;
        newShares = (amount * virtualShareAmount) / virtualPriorTokenBalance;
        if (newShares == 0) revert NewSharesZero();
        totalShares = priorTotalShares + newShares;
        if (totalShares > MAX_TOTAL_SHARES) revert TotalSharesExceedsMax();
        _emitExchangeRate(virtualTokenBalance, totalShares + SHARES_OFFSET);
        return newShares;
    }

    function withdraw(address recipient, address token, uint256 amountShares)
        external onlyStrategyManager returns (uint256 amountOut)
    {
        if (token != address(underlyingToken)) revert OnlyUnderlyingToken();
        uint256 priorTotalShares = totalShares;
        if (amountShares > priorTotalShares) revert WithdrawalAmountExceedsTotalDeposits();
        uint256 virtualPriorTotalShares = priorTotalShares + SHARES_OFFSET;
        uint256 virtualTokenBalance = _tokenBalance() + BALANCE_OFFSET;
        amountOut = (virtualTokenBalance * amountShares) / virtualPriorTotalShares;
        totalShares = priorTotalShares - amountShares;
        _emitExchangeRate(virtualTokenBalance - amountOut, totalShares + SHARES_OFFSET);
        require(underlyingToken.transfer(recipient, amountOut), "StrategyBase: transfer failed");
        return amountOut;
    }

    function sharesToUnderlyingView(uint256 amountShares) public view returns (uint256) {
        return ((_tokenBalance() + BALANCE_OFFSET) * amountShares) / (totalShares + SHARES_OFFSET);
    }

    function sharesToUnderlying(uint256 amountShares) public view returns (uint256) {
        return sharesToUnderlyingView(amountShares);
    }

    function underlyingToSharesView(uint256 amountUnderlying) public view returns (uint256) {
        return (amountUnderlying * (totalShares + SHARES_OFFSET)) / (_tokenBalance() + BALANCE_OFFSET);
    }

    function underlyingToShares(uint256 amountUnderlying) external view returns (uint256) {
        return underlyingToSharesView(amountUnderlying);
    }

    function userUnderlyingView(address user) external view returns (uint256) {
        return sharesToUnderlyingView(shares(user));
    }

    function shares(address user) public view returns (uint256) {
        return strategyManager.stakerDepositShares(user, address(this));
    }

    function explanation() external pure returns (string memory) {
        return "Base Strategy implementation to inherit from for more complex implementations";
    }

    function _tokenBalance() internal view returns (uint256) {
        return underlyingToken.balanceOf(address(this));
    }

    function _emitExchangeRate(uint256 virtualTokenBalance, uint256 virtualTotalShares) internal {
        emit ExchangeRateEmitted((1e18 * virtualTokenBalance) / virtualTotalShares);
    }
}
