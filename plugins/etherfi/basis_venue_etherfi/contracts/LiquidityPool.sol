// SPDX-License-Identifier: MIT
// Not EtherFi's code: ours, for basis-core tests. A minimal liquidity pool speaking the ABI of EtherFi's
// LiquidityPool (src/core/LiquidityPool.sol of etherfi-protocol/smart-contracts) with its share math:
// deposit() / deposit(address) mint _sharesForDepositAmount (amount x totalShares / pooled ether before the
// deposit, rounded down; 1:1 into an empty pool), sharesForAmount / amountForShare round down,
// sharesForWithdrawalAmount and amountPerShareCeil round up, getTotalPooledEther = totalValueOutOfLp +
// totalValueInLp, requestWithdraw(recipient, amount) moves the eETH to the WithdrawRequestNFT and mints a
// request there, withdraw(amount, share) settles a finalized claim. Test-only admin: `rebase(int128, uint128)`
// by the owner (EtherFi's is called by its admin contract with the oracle's report) and
// `addEthAmountLockedForWithdrawal` by the withdraw-request NFT at finalization. No proxy, validators,
// membership, blacklist, pausing or rate limits.
pragma solidity ^0.8.20;

interface IEETHForPool {
    function totalShares() external view returns (uint256);
    function shares(address _user) external view returns (uint256);
    function mintShares(address _user, uint256 _share) external;
    function burnShares(address _user, uint256 _share) external;
    function transferFrom(address _sender, address _recipient, uint256 _amount) external returns (bool);
}

interface IWithdrawRequestNFTForPool {
    function requestWithdraw(uint96 amountOfEEth, uint96 shareOfEEth, address recipient) external returns (uint256);
}

contract LiquidityPool {
    enum SourceOfFunds { UNDEFINED, EETH, ETHER_FAN, DELEGATED_STAKING }

    uint128 public totalValueOutOfLp;
    uint128 public totalValueInLp;
    IEETHForPool public eETH;
    IWithdrawRequestNFTForPool public withdrawRequestNFT;
    address public owner;
    uint256 public minWithdrawAmount;
    uint256 public maxWithdrawAmount = type(uint96).max;

    uint256 private constant SHARE_UNIT = 1e18;
    uint256 private locked = 1;

    event Deposit(address indexed sender, uint256 amount, SourceOfFunds source, address referral);
    event Withdraw(address indexed sender, address recipient, uint256 amount, SourceOfFunds source);
    event Rebase(uint256 totalEthLocked, uint256 totalEEthShares);
    event MinWithdrawAmountSet(uint256 minWithdrawAmount);
    event MaxWithdrawAmountSet(uint256 maxWithdrawAmount);

    error IncorrectCaller();
    error InvalidAmount();
    error InvalidWithdrawalAmount();
    error InvalidShareAmount();
    error InsufficientLiquidity();
    error SendFail();
    error AlreadyInitialized();

    constructor() {
        owner = msg.sender;
    }

    modifier nonReentrant() {
        require(locked == 1, "ReentrancyGuard: reentrant call");
        locked = 2;
        _;
        locked = 1;
    }

    /// @notice wire the eETH token and the withdraw-request NFT (once, by the owner)
    function initialize(address _eETH, address _withdrawRequestNFT) external {
        if (msg.sender != owner) revert IncorrectCaller();
        if (address(eETH) != address(0)) revert AlreadyInitialized();
        eETH = IEETHForPool(_eETH);
        withdrawRequestNFT = IWithdrawRequestNFTForPool(_withdrawRequestNFT);
    }

    /// @notice ETH sent back by the withdraw-request NFT (stranded escrow) returns to the pool's liquidity
    receive() external payable {
        if (msg.value > type(uint128).max) revert InvalidAmount();
        totalValueOutOfLp -= uint128(msg.value);
        totalValueInLp += uint128(msg.value);
    }

    // ------------------------------------------------------------------------------------- deposit
    function deposit() external payable returns (uint256) {
        return deposit(address(0));
    }

    function deposit(address _referral) public payable nonReentrant returns (uint256) {
        emit Deposit(msg.sender, msg.value, SourceOfFunds.EETH, _referral);
        return _deposit(msg.sender, msg.value, 0);
    }

    // ------------------------------------------------------------------------------------- withdraw
    function requestWithdraw(address recipient, uint256 amount) public nonReentrant returns (uint256) {
        if (amount == 0) revert InvalidWithdrawalAmount();
        if (amount < minWithdrawAmount || amount > maxWithdrawAmount) revert InvalidWithdrawalAmount();
        uint256 share = sharesForAmount(amount);
        if (share == 0) revert InvalidShareAmount();
        eETH.transferFrom(msg.sender, address(withdrawRequestNFT), amount);
        uint256 requestId = withdrawRequestNFT.requestWithdraw(uint96(amount), uint96(share), recipient);
        emit Withdraw(msg.sender, recipient, amount, SourceOfFunds.EETH);
        return requestId;
    }

    /// @notice settle a finalized claim: burn the request's full share snapshot, unwind `_amount` of the escrow
    function withdraw(uint256 _amount, uint256 _share) external nonReentrant {
        if (msg.sender != address(withdrawRequestNFT)) revert IncorrectCaller();
        if (_amount > type(uint128).max || _amount == 0 || _share == 0) revert InvalidAmount();
        totalValueOutOfLp -= uint128(_amount);
        eETH.burnShares(msg.sender, _share);
    }

    /// @notice move `_amount` ETH from the pool's liquidity to the withdraw-request NFT's escrow
    function addEthAmountLockedForWithdrawal(uint128 _amount) external {
        if (msg.sender != address(withdrawRequestNFT)) revert IncorrectCaller();
        if (totalValueInLp < _amount) revert InsufficientLiquidity();
        totalValueInLp -= _amount;
        totalValueOutOfLp += _amount;
        _sendFund(address(withdrawRequestNFT), _amount);
    }

    // ------------------------------------------------------------------------------------- admin (test oracle)
    function rebase(int128 _accruedRewards, uint128 _protocolFees) external {
        if (msg.sender != owner) revert IncorrectCaller();
        _protocolFees;
        totalValueOutOfLp = uint128(int128(totalValueOutOfLp) + _accruedRewards);
        emit Rebase(getTotalPooledEther(), eETH.totalShares());
    }

    function setMinWithdrawAmount(uint256 _amount) external {
        if (msg.sender != owner) revert IncorrectCaller();
        minWithdrawAmount = _amount;
        emit MinWithdrawAmountSet(_amount);
    }

    function setMaxWithdrawAmount(uint256 _amount) external {
        if (msg.sender != owner) revert IncorrectCaller();
        maxWithdrawAmount = _amount;
        emit MaxWithdrawAmountSet(_amount);
    }

    // ------------------------------------------------------------------------------------- views
    function getTotalEtherClaimOf(address _user) external view returns (uint256) {
        uint256 totalShares = eETH.totalShares();
        if (totalShares == 0) return 0;
        return getTotalPooledEther() * eETH.shares(_user) / totalShares;
    }

    function getTotalPooledEther() public view returns (uint256) {
        return totalValueOutOfLp + totalValueInLp;
    }

    function sharesForAmount(uint256 _amount) public view returns (uint256) {
        uint256 totalPooledEther = getTotalPooledEther();
        if (totalPooledEther == 0) return 0;
        return _amount * eETH.totalShares() / totalPooledEther;
    }

    function sharesForWithdrawalAmount(uint256 _amount) public view returns (uint256) {
        uint256 totalPooledEther = getTotalPooledEther();
        if (totalPooledEther == 0) return 0;
        return (_amount * eETH.totalShares() + totalPooledEther - 1) / totalPooledEther;
    }

    function amountForShare(uint256 _share) public view returns (uint256) {
        uint256 totalShares = eETH.totalShares();
        if (totalShares == 0) return 0;
        return _share * getTotalPooledEther() / totalShares;
    }

    function amountPerShareCeil() public view returns (uint256) {
        uint256 totalShares = eETH.totalShares();
        if (totalShares == 0) return 0;
        return (SHARE_UNIT * getTotalPooledEther() + totalShares - 1) / totalShares;
    }

    // ------------------------------------------------------------------------------------- internal
    function _deposit(address _recipient, uint256 _amountInLp, uint256 _amountOutOfLp) internal returns (uint256) {
        totalValueInLp += uint128(_amountInLp);
        totalValueOutOfLp += uint128(_amountOutOfLp);
        uint256 amount = _amountInLp + _amountOutOfLp;
        uint256 share = _sharesForDepositAmount(amount);
        if (amount > type(uint128).max || amount == 0 || share == 0) revert InvalidAmount();
        eETH.mintShares(_recipient, share);
        return share;
    }

    function _sharesForDepositAmount(uint256 _depositAmount) internal view returns (uint256) {
        uint256 totalPooledEther = getTotalPooledEther() - _depositAmount;
        if (totalPooledEther == 0) return _depositAmount;
        return _depositAmount * eETH.totalShares() / totalPooledEther;
    }

    function _sendFund(address _recipient, uint256 _amount) internal {
        (bool sent, ) = _recipient.call{value: _amount}("");
        if (!sent) revert SendFail();
    }
}
