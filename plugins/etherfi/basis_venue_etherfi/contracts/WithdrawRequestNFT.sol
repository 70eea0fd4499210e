// SPDX-License-Identifier: MIT
// Not EtherFi's code: ours, for basis-core tests. A withdrawal queue speaking the ABI of EtherFi's
// WithdrawRequestNFT (src/withdrawals/WithdrawRequestNFT.sol of etherfi-protocol/smart-contracts):
// requestWithdraw (pool only) records (amountOfEEth, shareOfEEth, isValid, feeGwei) under nextRequestId (from 1)
// and mints the request to the recipient; finalizeRequests(requestId) freezes the pool's amountPerShareCeil for
// the newly finalized range and escrows their eETH amounts in ETH (LiquidityPool.addEthAmountLockedForWithdrawal);
// claimWithdraw(tokenId) by anyone pays the owner min(amountOfEEth, shareOfEEth x frozen rate / 1e18), burns the
// request's full share snapshot through LiquidityPool.withdraw(amount, share) and returns stranded escrow to the
// pool; a request not finalized yet reverts RequestNotFinalized(). The requests are a minimal ERC721 (ownerOf,
// balanceOf, Transfer events; no approvals or safe transfers). Ours: finalizeRequests is the owner's (EtherFi's is
// its admin contract's), and a request can only be finalized `finalizationDelay` seconds after it was made
// (TooEarlyToFinalize), standing in for the protocol's queue delay.
pragma solidity ^0.8.20;

interface ILiquidityPoolForNFT {
    function amountPerShareCeil() external view returns (uint256);
    function withdraw(uint256 _amount, uint256 _share) external;
    function addEthAmountLockedForWithdrawal(uint128 _amount) external;
}

contract WithdrawRequestNFT {
    struct WithdrawRequest {
        uint96 amountOfEEth;
        uint96 shareOfEEth;
        bool isValid;
        uint32 feeGwei;
    }

    string public constant name = "Withdraw Request NFT";
    string public constant symbol = "WithdrawRequestNFT";
    uint256 private constant SHARE_UNIT = 1e18;

    ILiquidityPoolForNFT public immutable liquidityPool;
    address public owner;
    uint256 public finalizationDelay;

    uint32 public nextRequestId = 1;
    uint32 public lastFinalizedRequestId;
    uint128 public ethAmountLockedForWithdrawal;

    mapping(uint256 => WithdrawRequest) private _requests;
    mapping(uint256 => address) private _owners;
    mapping(address => uint256) private _balances;
    mapping(uint256 => uint256) private _requestedAt;
    mapping(uint256 => uint256) private _frozenRate;
    uint256 private locked = 1;

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event WithdrawRequestCreated(uint32 indexed requestId, uint256 amountOfEEth, uint256 shareOfEEth, address owner);
    event WithdrawRequestClaimed(uint32 indexed requestId, uint256 amountOfEEth, uint256 shareOfEEth, address owner);

    error IncorrectCaller();
    error RequestNotValid();
    error RequestNotFound();
    error CannotUndoFinalization();
    error CannotFinalizeFutureRequests();
    error InsufficientEscrow();
    error EthTransferFailed();
    error RequestNotFinalized();
    error TooEarlyToFinalize(uint256 requestId, uint256 finalizableAt);

    constructor(address _liquidityPool, uint256 _finalizationDelay) {
        liquidityPool = ILiquidityPoolForNFT(_liquidityPool);
        owner = msg.sender;
        finalizationDelay = _finalizationDelay;
    }

    modifier nonReentrant() {
        require(locked == 1, "ReentrancyGuard: reentrant call");
        locked = 2;
        _;
        locked = 1;
    }

    receive() external payable {
        if (msg.sender != address(liquidityPool)) revert IncorrectCaller();
    }

    function requestWithdraw(uint96 amountOfEEth, uint96 shareOfEEth, address recipient) external returns (uint256) {
        if (msg.sender != address(liquidityPool)) revert IncorrectCaller();
        uint256 requestId = nextRequestId++;
        _requests[requestId] = WithdrawRequest(amountOfEEth, shareOfEEth, true, 0);
        _requestedAt[requestId] = block.timestamp;
        _owners[requestId] = recipient;
        _balances[recipient] += 1;
        emit Transfer(address(0), recipient, requestId);
        emit WithdrawRequestCreated(uint32(requestId), amountOfEEth, shareOfEEth, recipient);
        return requestId;
    }

    function finalizeRequests(uint256 requestId) external {
        if (msg.sender != owner) revert IncorrectCaller();
        if (requestId < lastFinalizedRequestId) revert CannotUndoFinalization();
        if (requestId >= nextRequestId) revert CannotFinalizeFutureRequests();
        uint256 ready = _requestedAt[requestId] + finalizationDelay;
        if (block.timestamp < ready) revert TooEarlyToFinalize(requestId, ready);
        if (requestId == lastFinalizedRequestId) return;
        uint256 rate = liquidityPool.amountPerShareCeil();
        uint256 escrow;
        for (uint256 id = lastFinalizedRequestId + 1; id <= requestId; id++) {
            _frozenRate[id] = rate;
            if (_requests[id].isValid) escrow += _requests[id].amountOfEEth;
        }
        lastFinalizedRequestId = uint32(requestId);
        if (escrow > 0) {
            ethAmountLockedForWithdrawal += uint128(escrow);
            liquidityPool.addEthAmountLockedForWithdrawal(uint128(escrow));
        }
    }

    function claimWithdraw(uint256 tokenId) external nonReentrant {
        address recipient = ownerOf(tokenId);
        WithdrawRequest memory request = _requests[tokenId];
        if (!request.isValid) revert RequestNotValid();
        uint256 amountToWithdraw = getClaimableAmount(tokenId);

        _balances[recipient] -= 1;
        delete _owners[tokenId];
        delete _requests[tokenId];
        emit Transfer(recipient, address(0), tokenId);

        if (ethAmountLockedForWithdrawal < request.amountOfEEth) revert InsufficientEscrow();
        ethAmountLockedForWithdrawal -= uint128(request.amountOfEEth);
        liquidityPool.withdraw(amountToWithdraw, request.shareOfEEth);

        (bool ok, ) = payable(recipient).call{value: amountToWithdraw}("");
        if (!ok) revert EthTransferFailed();
        if (address(this).balance > ethAmountLockedForWithdrawal) {
            uint256 stranded = address(this).balance - ethAmountLockedForWithdrawal;
            (bool okStranded, ) = payable(address(liquidityPool)).call{value: stranded}("");
            if (!okStranded) revert EthTransferFailed();
        }
        emit WithdrawRequestClaimed(uint32(tokenId), amountToWithdraw, request.shareOfEEth, recipient);
    }

    function getClaimableAmount(uint256 tokenId) public view returns (uint256) {
        if (tokenId > lastFinalizedRequestId) revert RequestNotFinalized();
        WithdrawRequest memory request = _requests[tokenId];
        uint256 amountForShares = uint256(request.shareOfEEth) * _frozenRate[tokenId] / SHARE_UNIT;
        return request.amountOfEEth < amountForShares ? request.amountOfEEth : amountForShares;
    }

    function getRequest(uint256 requestId) external view returns (WithdrawRequest memory) {
        return _requests[requestId];
    }

    function isFinalized(uint256 requestId) public view returns (bool) {
        return requestId <= lastFinalizedRequestId;
    }

    function isValid(uint256 requestId) public view returns (bool) {
        if (_owners[requestId] == address(0)) revert RequestNotFound();
        return _requests[requestId].isValid;
    }

    function ownerOf(uint256 tokenId) public view returns (address) {
        address o = _owners[tokenId];
        if (o == address(0)) revert RequestNotFound();
        return o;
    }

    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @notice ours: when request `requestId` may be finalized (its time + finalizationDelay); 0 if unknown
    function finalizableAt(uint256 requestId) external view returns (uint256) {
        uint256 t = _requestedAt[requestId];
        return t == 0 ? 0 : t + finalizationDelay;
    }
}
