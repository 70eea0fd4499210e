// SPDX-License-Identifier: MIT
// Not Lido's code: a minimal share-based stETH for basis-core tests; exposes Lido's ABI
// (submit, sharesOf, getPooledEthByShares, getSharesByPooledEth, getTotalPooledEther, getTotalShares,
// transferShares, transferSharesFrom, ERC20). Balances are shares * totalPooledEther / totalShares,
// rounded down, exactly as Lido's. Oracle reports are replaced by the owner-only test functions
// setTotalPooledEther / rebase. No staking limits, no pausing, no node operators.
pragma solidity ^0.8.20;

contract StETH {
    string public constant name = "Liquid staked Ether 2.0";
    string public constant symbol = "stETH";
    uint8 public constant decimals = 18;

    /// Lido mints the bootstrap shares to this address so the share rate is never 0/0.
    address internal constant INITIAL_TOKEN_HOLDER = address(0xdead);
    uint256 internal constant INFINITE_ALLOWANCE = type(uint256).max;

    uint256 private totalPooledEther;
    uint256 private totalShares;
    mapping(address => uint256) private shares;
    mapping(address => mapping(address => uint256)) private allowances;

    address public owner;
    address public withdrawalQueue;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event TransferShares(address indexed from, address indexed to, uint256 sharesValue);
    event Submitted(address indexed sender, uint256 amount, address referral);
    event SharesBurnt(
        address indexed account, uint256 preRebaseTokenAmount, uint256 postRebaseTokenAmount, uint256 sharesAmount
    );
    /// Test-only stand-in for Lido's TokenRebased: emitted by setTotalPooledEther / rebase.
    event Rebased(uint256 preTotalPooledEther, uint256 postTotalPooledEther, uint256 totalShares);

    modifier onlyOwner() {
        require(msg.sender == owner, "APP_AUTH_FAILED");
        _;
    }

    /// @notice Bootstraps like Lido: the deployment value becomes the dead holder's shares (1:1).
    constructor() payable {
        require(msg.value > 0, "NO_BOOTSTRAP_ETHER");
        owner = msg.sender;
        totalPooledEther = msg.value;
        _mintShares(INITIAL_TOKEN_HOLDER, msg.value);
        emit Submitted(msg.sender, msg.value, address(0));
        _emitTransferAfterMintingShares(INITIAL_TOKEN_HOLDER, msg.value);
    }

    /// @notice Plain ETH sent to the contract is staked for the sender (Lido's fallback).
    receive() external payable {
        _submit(address(0));
    }

    // ------------------------------------------------------------------ staking

    function submit(address _referral) external payable returns (uint256) {
        return _submit(_referral);
    }

    function _submit(address _referral) internal returns (uint256) {
        require(msg.value != 0, "ZERO_DEPOSIT");
        uint256 sharesAmount = getSharesByPooledEth(msg.value);
        _mintShares(msg.sender, sharesAmount);
        totalPooledEther += msg.value;
        emit Submitted(msg.sender, msg.value, _referral);
        _emitTransferAfterMintingShares(msg.sender, sharesAmount);
        return sharesAmount;
    }

    // ------------------------------------------------------------------ share math

    function getTotalPooledEther() external view returns (uint256) {
        return totalPooledEther;
    }

    function getTotalShares() external view returns (uint256) {
        return totalShares;
    }

    function sharesOf(address _account) external view returns (uint256) {
        return shares[_account];
    }

    function getSharesByPooledEth(uint256 _ethAmount) public view returns (uint256) {
        return (_ethAmount * totalShares) / totalPooledEther;
    }

    function getPooledEthByShares(uint256 _sharesAmount) public view returns (uint256) {
        return (_sharesAmount * totalPooledEther) / totalShares;
    }

    // ------------------------------------------------------------------ ERC20

    function totalSupply() external view returns (uint256) {
        return totalPooledEther;
    }

    function balanceOf(address _account) external view returns (uint256) {
        return getPooledEthByShares(shares[_account]);
    }

    function allowance(address _owner, address _spender) external view returns (uint256) {
        return allowances[_owner][_spender];
    }

    function approve(address _spender, uint256 _amount) external returns (bool) {
        _approve(msg.sender, _spender, _amount);
        return true;
    }

    function increaseAllowance(address _spender, uint256 _addedValue) external returns (bool) {
        _approve(msg.sender, _spender, allowances[msg.sender][_spender] + _addedValue);
        return true;
    }

    function decreaseAllowance(address _spender, uint256 _subtractedValue) external returns (bool) {
        uint256 current = allowances[msg.sender][_spender];
        require(current >= _subtractedValue, "ALLOWANCE_BELOW_ZERO");
        _approve(msg.sender, _spender, current - _subtractedValue);
        return true;
    }

    function transfer(address _recipient, uint256 _amount) external returns (bool) {
        _transfer(msg.sender, _recipient, _amount);
        return true;
    }

    function transferFrom(address _sender, address _recipient, uint256 _amount) external returns (bool) {
        _spendAllowance(_sender, msg.sender, _amount);
        _transfer(_sender, _recipient, _amount);
        return true;
    }

    function transferShares(address _recipient, uint256 _sharesAmount) external returns (uint256) {
        _transferShares(msg.sender, _recipient, _sharesAmount);
        uint256 tokensAmount = getPooledEthByShares(_sharesAmount);
        _emitTransferEvents(msg.sender, _recipient, tokensAmount, _sharesAmount);
        return tokensAmount;
    }

    function transferSharesFrom(address _sender, address _recipient, uint256 _sharesAmount)
        external
        returns (uint256)
    {
        uint256 tokensAmount = getPooledEthByShares(_sharesAmount);
        _spendAllowance(_sender, msg.sender, tokensAmount);
        _transferShares(_sender, _recipient, _sharesAmount);
        _emitTransferEvents(_sender, _recipient, tokensAmount, _sharesAmount);
        return tokensAmount;
    }

    // ------------------------------------------------------------------ test oracle / admin

    function setWithdrawalQueue(address _queue) external onlyOwner {
        withdrawalQueue = _queue;
    }

    /// @notice Test-only oracle report: set the pooled ether (rewards or penalties).
    ///         ETH sent along, if any, only backs future withdrawals; it is not counted.
    function setTotalPooledEther(uint256 _totalPooledEther) external payable onlyOwner {
        require(_totalPooledEther > 0, "ZERO_POOLED_ETHER");
        emit Rebased(totalPooledEther, _totalPooledEther, totalShares);
        totalPooledEther = _totalPooledEther;
    }

    /// @notice Test-only oracle report: add (or, if negative, remove) `_delta` wei of pooled ether.
    function rebase(int256 _delta) external payable onlyOwner {
        uint256 pre = totalPooledEther;
        uint256 post = _delta >= 0 ? pre + uint256(_delta) : pre - uint256(-_delta);
        require(post > 0, "ZERO_POOLED_ETHER");
        totalPooledEther = post;
        emit Rebased(pre, post, totalShares);
    }

    /// @notice Called by the withdrawal queue on finalization: burns the queue's `_sharesToBurn`,
    ///         removes `_etherToLock` from the pool and sends that ETH to the queue.
    function finalizeWithdrawals(uint256 _sharesToBurn, uint256 _etherToLock) external {
        require(msg.sender == withdrawalQueue, "APP_AUTH_FAILED");
        uint256 pre = getPooledEthByShares(_sharesToBurn);
        _burnShares(msg.sender, _sharesToBurn);
        totalPooledEther -= _etherToLock;
        emit SharesBurnt(msg.sender, pre, _etherToLock, _sharesToBurn);
        (bool ok,) = msg.sender.call{value: _etherToLock}("");
        require(ok, "ETH_TRANSFER_FAILED");
    }

    // ------------------------------------------------------------------ internals

    function _approve(address _owner, address _spender, uint256 _amount) internal {
        require(_owner != address(0), "APPROVE_FROM_ZERO_ADDR");
        require(_spender != address(0), "APPROVE_TO_ZERO_ADDR");
        allowances[_owner][_spender] = _amount;
        emit Approval(_owner, _spender, _amount);
    }

    function _spendAllowance(address _owner, address _spender, uint256 _amount) internal {
        uint256 current = allowances[_owner][_spender];
        if (current != INFINITE_ALLOWANCE) {
            require(current >= _amount, "ALLOWANCE_EXCEEDED");
            _approve(_owner, _spender, current - _amount);
        }
    }

    function _transfer(address _sender, address _recipient, uint256 _amount) internal {
        uint256 sharesToTransfer = getSharesByPooledEth(_amount);
        _transferShares(_sender, _recipient, sharesToTransfer);
        _emitTransferEvents(_sender, _recipient, _amount, sharesToTransfer);
    }

    function _transferShares(address _sender, address _recipient, uint256 _sharesAmount) internal {
        require(_sender != address(0), "TRANSFER_FROM_ZERO_ADDR");
        require(_recipient != address(0), "TRANSFER_TO_ZERO_ADDR");
        require(_recipient != address(this), "TRANSFER_TO_STETH_CONTRACT");
        uint256 currentSenderShares = shares[_sender];
        require(_sharesAmount <= currentSenderShares, "BALANCE_EXCEEDED");
        shares[_sender] = currentSenderShares - _sharesAmount;
        shares[_recipient] += _sharesAmount;
    }

    function _mintShares(address _recipient, uint256 _sharesAmount) internal {
        require(_recipient != address(0), "MINT_TO_ZERO_ADDR");
        totalShares += _sharesAmount;
        shares[_recipient] += _sharesAmount;
    }

    function _burnShares(address _account, uint256 _sharesAmount) internal {
        uint256 accountShares = shares[_account];
        require(_sharesAmount <= accountShares, "BALANCE_EXCEEDED");
        totalShares -= _sharesAmount;
        shares[_account] = accountShares - _sharesAmount;
    }

    function _emitTransferEvents(address _from, address _to, uint256 _tokenAmount, uint256 _sharesAmount)
        internal
    {
        emit Transfer(_from, _to, _tokenAmount);
        emit TransferShares(_from, _to, _sharesAmount);
    }

    function _emitTransferAfterMintingShares(address _to, uint256 _sharesAmount) internal {
        _emitTransferEvents(address(0), _to, getPooledEthByShares(_sharesAmount), _sharesAmount);
    }
}
